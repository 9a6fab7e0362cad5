/**
 * `ovis-image worker`: one loaded model taking jobs from a `serve --redis` queue. Run one per GPU, on any
 * number of machines. SIGTERM/SIGINT: stop taking jobs, finish the running ones, exit.
 */
import type { Command } from 'commander';
import { DEFAULT_STALL_MS } from '../serve/defaults.js';
import { addServingModelOptions, intOption, loadServingModel, stopSignal, type DeviceFlags } from './serve-common.js';

interface WorkerFlags extends DeviceFlags {
  redis: string;
  queueName: string;
  concurrency?: string;
  stallMs?: string;
}

export function registerWorkerCommand(program: Command): Command {
  const command = program.command('worker').description('take jobs from a BullMQ queue (`serve --redis`) and generate them on this machine');
  return addServingModelOptions(command)
    .requiredOption('--redis <url>', 'Redis URL of the queue, e.g. redis://127.0.0.1:6379')
    .option('--queue-name <name>', 'BullMQ queue name', 'ovis-image')
    .option('--concurrency <n>', 'jobs taken at once (they still run one after another on the one model; default: 1)')
    .option('--stall-ms <ms>', `job lock duration: a dead worker's job goes to another worker after about this long (default: ${DEFAULT_STALL_MS})`)
    .action(async (flags: WorkerFlags) => runWorker(flags));
}

async function runWorker(f: WorkerFlags): Promise<void> {
  const concurrency = intOption('--concurrency', f.concurrency, 1, 64, 1);
  const stallMs = intOption('--stall-ms', f.stallMs, 500, 3_600_000, DEFAULT_STALL_MS);
  // only when working: other commands skip BullMQ
  const [{ startWorker }, { probeRedis }] = await Promise.all([import('../serve/bullmq-worker.js'), import('../serve/bullmq-shared.js')]);
  await probeRedis(f.redis); // a wrong URL fails now, not after the model has loaded
  const model = await loadServingModel(f);
  // From here on SIGTERM lets the running job finish; before (loading) it simply ends the process.
  const signals = stopSignal();
  try {
    const log = f.quiet === true ? undefined : (line: string): void => void process.stderr.write(`${line}\n`);
    const worker = await startWorker(model, f.redis, { name: f.queueName, concurrency, stallMs, ...(log ? { log } : {}) });
    process.stdout.write(`worker ${process.pid} ready on ${model.backend}, queue '${f.queueName}'\n`);
    await signals.stopped;
    await worker.close();
  } finally {
    signals.dispose();
    await model.dispose();
  }
}
