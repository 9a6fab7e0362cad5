/**
 * What the BullMQ server side and the workers agree on: the job data, the result's shape in Redis, the
 * Redis keys beside BullMQ's own (images and cancel marks, both with a TTL), and the cancel channel.
 */
import { Redis } from 'ioredis';
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

/** A connection as BullMQ wants it for blocking commands (no retry limit per request). */
export function redisConnection(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, lazyConnect: false });
}
