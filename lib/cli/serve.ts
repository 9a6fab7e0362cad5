/**
 * `ovis-image serve`: the HTTP API. Embedded (default): one process, one loaded model, an in-process
 * queue. With --redis: jobs go to BullMQ and `ovis-image worker` processes run them.
 * SIGTERM/SIGINT: refuse new jobs, cancel the queued ones, let the running one finish (--shutdown-grace),
 * then close.
 */
import type { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import { DEFAULT_BODY_LIMIT, DEFAULT_MAX_QUEUE, DEFAULT_RESULT_TTL_SECONDS, DEFAULT_SHUTDOWN_GRACE_SECONDS } from '../serve/defaults.js';
import type { JobQueue } from '../serve/types.js';
import type { OvisImage } from '../ovis-image.js';
import { addServingModelOptions, intOption, loadServingModel, stopSignal, type DeviceFlags } from './serve-common.js';
import { UsageError } from './usage-error.js';

interface ServeFlags extends DeviceFlags {
  host: string;
  port?: string;
  apiKey?: string;
  redis?: string;
  queueName: string;
  maxQueue?: string;
  bodyLimit?: string;
  resultTtl?: string;
  shutdownGrace?: string;
  publicUrl?: string;
}

export function registerServeCommand(program: Command): Command {
  const command = program.command('serve').description('serve an OpenAI-compatible image API over HTTP (embedded queue, or BullMQ workers with --redis)');
  return addServingModelOptions(command)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port to listen on, 0 = any free one (default: 8080)')
    .option('--api-key <key>', 'require "Authorization: Bearer <key>" on every route but /healthz (default: $OVIS_IMAGE_API_KEY, else none)')
    .option('--redis <url>', 'enqueue jobs on BullMQ at this Redis URL instead of running them here (run `ovis-image worker`s)')
    .option('--queue-name <name>', 'BullMQ queue name (with --redis)', 'ovis-image')
    .option('--max-queue <n>', `most jobs waiting; more get 429 with Retry-After (default: ${DEFAULT_MAX_QUEUE})`)
    .option('--body-limit <bytes>', `largest request body (default: ${DEFAULT_BODY_LIMIT})`)
    .option('--result-ttl <s>', `seconds finished jobs and their images are kept (default: ${DEFAULT_RESULT_TTL_SECONDS})`)
    .option('--shutdown-grace <s>', `on SIGTERM, seconds the running job may take to finish before it is cancelled (default: ${DEFAULT_SHUTDOWN_GRACE_SECONDS})`)
    .option('--public-url <url>', "origin used in image URLs (default: the request's own)")
    .action(async (flags: ServeFlags) => runServe(flags));
}

async function runServe(f: ServeFlags): Promise<void> {
  const port = intOption('--port', f.port, 0, 65535, 8080);
  const capacity = intOption('--max-queue', f.maxQueue, 1, 1_000_000, DEFAULT_MAX_QUEUE);
  const bodyLimit = intOption('--body-limit', f.bodyLimit, 1024, 1024 ** 3, DEFAULT_BODY_LIMIT);
  const resultTtl = intOption('--result-ttl', f.resultTtl, 1, 7 * 24 * 3600, DEFAULT_RESULT_TTL_SECONDS);
  const grace = intOption('--shutdown-grace', f.shutdownGrace, 0, 24 * 3600, DEFAULT_SHUTDOWN_GRACE_SECONDS);
  if (f.publicUrl !== undefined && !/^https?:\/\/[^/]+\/?$/.test(f.publicUrl)) throw new UsageError(`--public-url must be an origin such as https://images.example.com (got ${f.publicUrl})`);
  // Loaded here, not at the top: other commands need not pay for fastify and BullMQ.
  const [{ BullQueue }, { MemoryQueue }, { runJob }, { buildServer }] = await Promise.all([
    import('../serve/bullmq-queue.js'),
    import('../serve/memory-queue.js'),
    import('../serve/run-job.js'),
    import('../serve/server.js'),
  ]);
  let model: OvisImage | undefined;
  let queue: JobQueue;
  if (f.redis !== undefined) {
    queue = await BullQueue.connect(f.redis, { name: f.queueName, capacity, resultTtlSeconds: resultTtl });
  } else {
    const loaded = (model = await loadServingModel(f));
    queue = new MemoryQueue((request, signal, onStep) => runJob(loaded, request, signal, onStep), { capacity, resultTtlMs: resultTtl * 1000 });
  }
  const app = await buildServer({ queue, apiKey: f.apiKey ?? process.env['OVIS_IMAGE_API_KEY'], bodyLimit, publicUrl: f.publicUrl });
  // From here on SIGTERM drains; before (loading, connecting) it simply ends the process.
  const signals = stopSignal();
  try {
    const address = await app.listen({ host: f.host, port });
    process.stdout.write(`listening on ${address} (${f.redis === undefined ? 'embedded' : `BullMQ queue '${f.queueName}'`})\n`);
    const signal = await signals.stopped;
    if (f.quiet !== true) process.stderr.write(`${signal}: finishing the running job, refusing new ones\n`);
    await queue.drain(grace * 1000);
  } finally {
    signals.dispose();
    await closeWithin(app, grace * 1000);
    await queue.close();
    await model?.dispose();
  }
}

/** Closes the server; requests still waiting after `ms` (jobs left to the workers) are cut off. */
async function closeWithin(app: FastifyInstance, ms: number): Promise<void> {
  const timer = setTimeout(() => app.server.closeAllConnections(), ms);
  try {
    await app.close();
  } finally {
    clearTimeout(timer);
  }
}
