/**
 * A distributed-mode worker: takes jobs from the BullMQ queue and runs them on its one loaded model.
 * Progress goes out as BullMQ job progress, the PNGs into Redis keys with a TTL. A cancel published by
 * the server aborts the generation through BullMQ's job AbortSignal. Generation runs on the engine's own
 * thread, so BullMQ keeps renewing the job's lock; if this process dies, the lock lapses and another
 * worker's stalled-job check takes the job again (same seed, same image).
 */
import { hostname } from 'node:os';
import { UnrecoverableError, Worker } from 'bullmq';
import type { OvisImage } from '../ovis-image.js';
import { CANCELLED_REASON, connectRedis, duplicateRedis, redisErrorReporter, RedisKeys, type BullJobData, type BullJobResult } from './bullmq-shared.js';
import { runJob } from './run-job.js';

export interface WorkerOptions {
  name: string;
  concurrency: number;
  /** Lock duration and stalled-job check interval: how soon a dead worker's job is taken again. */
  stallMs: number;
  log?: (line: string) => void;
}

export interface RunningWorker {
  /** Stops taking jobs and waits for the running ones to finish. */
  close(): Promise<void>;
}

export async function startWorker(model: OvisImage, url: string, o: WorkerOptions): Promise<RunningWorker> {
  const keys = new RedisKeys(o.name);
  const onError = redisErrorReporter();
  const redis = await connectRedis(url, onError);
  // BullMQ leaves connections it was given open: all three are closed in close().
  const subscriber = duplicateRedis(redis, onError);
  const workerRedis = duplicateRedis(redis, onError);
  const me = `${hostname()}:${process.pid}`;
  const worker = new Worker<BullJobData, BullJobResult>(
    o.name,
    async (job, _token, signal) => {
      if (await redis.exists(keys.cancelled(job.id!))) throw new UnrecoverableError(CANCELLED_REASON);
      o.log?.(`job ${job.id}: started`);
      const request = job.data.request;
      try {
        const result = await runJob(model, request, signal ?? new AbortController().signal, (p) => void job.updateProgress(p).catch(() => undefined));
        const save = redis.multi();
        result.images.forEach((img, i) => save.set(keys.png(job.id!, i), img.png, 'EX', job.data.resultTtlSeconds));
        await save.exec();
        o.log?.(`job ${job.id}: done`);
        const { images, ...timings } = result;
        return { seeds: images.map((i) => i.seed), ...timings, worker: me };
      } catch (e) {
        if (signal?.aborted) throw new UnrecoverableError(CANCELLED_REASON);
        throw e;
      }
    },
    { connection: workerRedis, concurrency: o.concurrency, lockDuration: o.stallMs, stalledInterval: o.stallMs, maxStalledCount: 2 },
  );
  worker.on('error', onError);
  await subscriber.subscribe(keys.cancelChannel());
  subscriber.on('message', (_channel: string, id: string) => {
    if (worker.cancelJob(id, CANCELLED_REASON)) o.log?.(`job ${id}: cancelled`);
  });
  await worker.waitUntilReady();
  return {
    async close() {
      await worker.close();
      await Promise.all([subscriber, workerRedis, redis].map((r) => r.quit().catch(() => undefined)));
    },
  };
}
