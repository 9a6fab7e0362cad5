/**
 * The job-queue seam of the server (DESIGN decision 12): HTTP routes talk to a JobQueue; an in-process
 * queue (embedded mode) and a BullMQ queue (workers on Redis) implement it.
 */

/** One validated generation request, as it travels through a queue (JSON-safe: seeds as strings). */
export interface JobRequest {
  prompt: string;
  negativePrompt: string;
  width: number;
  height: number;
  steps: number;
  guidanceScale: number;
  /** Seed of the first image, decimal; image i uses seed + i. Chosen at submission so a retry repeats it. */
  seed: string;
  /** How many images. */
  n: number;
  /** Image-to-image: the start image (base64 PNG or JPEG bytes) and how far it is re-noised. */
  image?: string;
  strength?: number;
  /** Previews (VAE-decoded PNGs) sent on step events, at most this many per image. */
  partialImages?: number;
  /** How finished images are handed back: inline base64, or a URL on this server. */
  responseFormat: 'b64_json' | 'url';
}

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface JobImage {
  png: Buffer;
  seed: string;
}

export interface JobResult {
  images: JobImage[];
  /** Wall-clock seconds of each image, and of each denoising step (averaged per image). */
  secondsPerImage: number[];
  secondsPerStep: number[];
  promptTruncated: boolean;
  /** Which worker process made the images (host:pid), in distributed mode. */
  worker?: string;
}

export interface JobInfo {
  id: string;
  state: JobState;
  /** 0 = next to run; only while queued. */
  position?: number;
  /** Steps done of the image being made, its index, and the total. */
  step?: number;
  steps?: number;
  image?: number;
  /** Epoch milliseconds: accepted, started running, ended. */
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  request: JobRequest;
  result?: JobResult;
  error?: string;
}

export type JobEvent =
  | { type: 'queued'; position: number }
  | { type: 'step'; step: number; steps: number; image: number; preview?: string; partialIndex?: number }
  | { type: 'done'; result: JobResult }
  | { type: 'failed'; error: string }
  | { type: 'cancelled' };

export interface QueueStats {
  /** Jobs waiting to run. */
  depth: number;
  byState: Record<JobState, number>;
}

export interface JobQueue {
  /** Queues a job; rejects with QueueFullError or ShuttingDownError. */
  submit(request: JobRequest): Promise<JobInfo>;
  get(id: string): Promise<JobInfo | undefined>;
  /** Cancels a queued or running job; false when there is no such job or it has already ended. */
  cancel(id: string): Promise<boolean>;
  /**
   * Calls `listener` with the job's events from now on, ending with done, failed or cancelled.
   * Returns the unsubscribe function.
   */
  subscribe(id: string, listener: (event: JobEvent) => void): () => void;
  /** Every job's events (metrics). Returns the unsubscribe function. */
  subscribeAll(listener: (id: string, event: JobEvent) => void): () => void;
  stats(): Promise<QueueStats>;
  /** Refuses new jobs, cancels the queued ones, lets the running one finish for up to `graceMs`, then aborts it. */
  drain(graceMs: number): Promise<void>;
  close(): Promise<void>;
}

export class QueueFullError extends Error {
  constructor(
    readonly capacity: number,
    readonly retryAfterSeconds: number,
  ) {
    super(`the queue is full (${capacity} jobs waiting); retry in ${retryAfterSeconds} s`);
    this.name = 'QueueFullError';
  }
}

export class ShuttingDownError extends Error {
  constructor() {
    super('the server is shutting down and takes no new jobs');
    this.name = 'ShuttingDownError';
  }
}

export function isFinal(state: JobState): boolean {
  return state === 'succeeded' || state === 'failed' || state === 'cancelled';
}
