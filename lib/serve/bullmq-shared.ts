/**
 * What the BullMQ server side and the workers agree on: the job data, the result's shape in Redis, the
 * Redis keys beside BullMQ's own (images and cancel marks, both with a TTL), and the cancel channel.
 */
import { Redis } from 'ioredis';
import { OvisError } from '../errors.js';
import type { JobRequest } from './types.js';

export const JOB_NAME = 'generate';
/** failedReason of a job stopped by DELETE /v1/jobs/:id. */
export const CANCELLED_REASON = 'cancelled';

export interface BullJobData {
  request: JobRequest;
  /** How long the worker keeps the PNGs in Redis. */
  resultTtlSeconds: number;
}

/** A job's return value: metadata only; the PNGs are in their own keys (pngKey). */
export interface BullJobResult {
  seeds: string[];
  secondsPerImage: number[];
  secondsPerStep: number[];
  promptTruncated: boolean;
  /** Which worker made it (host:pid), for logs and tests. */
  worker: string;
}

/** Progress saved by the worker after each step. */
export interface BullProgress {
  step: number;
  steps: number;
  image: number;
  preview?: string;
  partialIndex?: number;
}

export class RedisKeys {
  constructor(readonly queueName: string) {}
  png(jobId: string, index: number): string {
    return `ovis-image:${this.queueName}:png:${jobId}:${index}`;
  }
  /** Set when a job is cancelled; holds the job's data so a removed queued job still reads as cancelled. */
  cancelled(jobId: string): string {
    return `ovis-image:${this.queueName}:cancelled:${jobId}`;
  }
  /** Pub/sub channel on which the server tells the workers which running job to stop. */
  cancelChannel(): string {
    return `ovis-image:${this.queueName}:cancel`;
  }
}

/** Fails with one clear error unless Redis at `url` answers a PING (no endless retrying). */
export async function probeRedis(url: string): Promise<void> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  let cause: Error | undefined;
  probe.on('error', (e: Error) => (cause ??= e));
  try {
    await probe.connect();
    await probe.ping();
  } catch (e) {
    const why = (cause ?? (e instanceof Error ? e : new Error(String(e)))).message;
    throw new OvisError('OVIS_UNAVAILABLE', `cannot reach Redis at ${url}: ${why}`);
  } finally {
    probe.disconnect();
  }
}

/** A connection as BullMQ wants it (no retry limit per request), once Redis has answered. */
export async function connectRedis(url: string, onError: (e: Error) => void): Promise<Redis> {
  await probeRedis(url);
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  redis.on('error', onError);
  return redis;
}

/** A duplicate connection with the same error reporting. */
export function duplicateRedis(redis: Redis, onError: (e: Error) => void): Redis {
  const copy = redis.duplicate();
  copy.on('error', onError);
  return copy;
}

/**
 * Connection trouble after start (Redis restarting, network): ioredis and BullMQ reconnect by themselves;
 * this says so on stderr, one line per distinct message every 10 s at most.
 */
export function redisErrorReporter(write: (line: string) => void = (l) => void process.stderr.write(l)): (e: Error) => void {
  const last = new Map<string, number>();
  return (e) => {
    const now = Date.now();
    if (now - (last.get(e.message) ?? 0) < 10_000) return;
    last.set(e.message, now);
    write(`ovis-image: redis: ${e.message} (retrying)\n`);
  };
}
