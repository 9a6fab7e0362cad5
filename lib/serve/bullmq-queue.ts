/**
 * The server side of distributed mode: jobs go on a BullMQ queue in Redis, `ovis-image worker`s run
 * them; progress and results come back through BullMQ's events and Redis keys with a TTL.
 */
import { randomUUID } from 'node:crypto';
import { Queue, QueueEvents, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { CANCELLED_REASON, connectRedis, duplicateRedis, JOB_NAME, redisErrorReporter, RedisKeys, type BullJobData, type BullJobResult, type BullProgress } from './bullmq-shared.js';
import { JobEvents } from './job-events.js';
import { QueueFullError, ShuttingDownError, type JobEvent, type JobInfo, type JobQueue, type JobResult, type JobState, type QueueStats } from './types.js';

export interface BullQueueOptions {
  name: string;
  /** Most jobs waiting; more are refused with QueueFullError. */
  capacity: number;
  resultTtlSeconds: number;
}

const QUEUED_STATES = ['waiting', 'prioritized', 'delayed', 'waiting-children'];

export class BullQueue implements JobQueue {
  private readonly events = new JobEvents();
  private readonly keys: RedisKeys;
  private draining = false;
  private secondsPerJob = 1;

  private constructor(
    private readonly queue: Queue<BullJobData, BullJobResult>,
    private readonly queueEvents: QueueEvents,
    /** BullMQ leaves connections it was given open: these two are closed here. */
    private readonly redis: Redis,
    private readonly eventsRedis: Redis,
    private readonly options: BullQueueOptions,
  ) {
    this.keys = new RedisKeys(options.name);
    this.listen();
  }

  static async connect(url: string, options: BullQueueOptions): Promise<BullQueue> {
    const onError = redisErrorReporter();
    const redis = await connectRedis(url, onError);
    const queue = new Queue<BullJobData, BullJobResult>(options.name, { connection: redis });
    const eventsRedis = duplicateRedis(redis, onError);
    const queueEvents = new QueueEvents(options.name, { connection: eventsRedis });
    queue.on('error', onError);
    queueEvents.on('error', onError);
    await Promise.all([queue.waitUntilReady(), queueEvents.waitUntilReady()]);
    return new BullQueue(queue, queueEvents, redis, eventsRedis, options);
  }

  async submit(request: BullJobData['request']): Promise<JobInfo> {
    if (this.draining) throw new ShuttingDownError();
    if ((await this.queue.count()) >= this.options.capacity) throw new QueueFullError(this.options.capacity, Math.max(1, Math.ceil(this.secondsPerJob)));
    const ttl = { age: this.options.resultTtlSeconds };
    // Failures are deterministic (bad weights, out of memory): no retries. A worker that dies mid-job is
    // another matter: BullMQ's stalled-job check hands the job to another worker.
    const job = await this.queue.add(JOB_NAME, { request, resultTtlSeconds: this.options.resultTtlSeconds }, { jobId: randomUUID(), attempts: 1, removeOnComplete: ttl, removeOnFail: ttl });
    return (await this.get(job.id!))!;
  }

  async get(id: string): Promise<JobInfo | undefined> {
    // The state first, then the job's hash: states only move forward, so a job read as failed or
    // completed already has its failedReason or return value (the other order can miss them).
    const bullState = await this.queue.getJobState(id);
    const job = bullState === 'unknown' ? undefined : await this.queue.getJob(id);
    if (!job) return this.cancelledInfo(id);
    const state = toJobState(bullState, job);
    const info: JobInfo = { id, state, createdAt: job.timestamp, request: job.data.request };
    if (job.processedOn) info.startedAt = job.processedOn;
    if (job.finishedOn) info.finishedAt = job.finishedOn;
    if (state === 'queued') info.position = await this.positionOf(id);
    if (state === 'running' && isProgress(job.progress)) Object.assign(info, { step: job.progress.step, steps: job.progress.steps, image: job.progress.image });
    if (state === 'succeeded') info.result = await this.resultOf(id, job.returnvalue);
    if (state === 'failed') info.error = job.failedReason;
    return info;
  }

  async cancel(id: string): Promise<boolean> {
    const bullState = await this.queue.getJobState(id);
    const job = bullState === 'unknown' ? undefined : await this.queue.getJob(id);
    if (!job) return false;
    const state = toJobState(bullState, job);
    if (state !== 'queued' && state !== 'running') return false;
    const mark = JSON.stringify({ request: job.data.request, createdAt: job.timestamp });
    await this.redis.set(this.keys.cancelled(id), mark, 'EX', this.options.resultTtlSeconds);
    // A queued job is removed (this fails once a worker holds its lock); a running one is told to stop.
    const removed = state === 'queued' && (await job.remove().then(() => true, () => false));
    if (!removed) await this.redis.publish(this.keys.cancelChannel(), id);
    return true;
  }

  subscribe(id: string, listener: (event: JobEvent) => void): () => void {
    return this.events.subscribe(id, listener);
  }

  subscribeAll(listener: (id: string, event: JobEvent) => void): () => void {
    return this.events.subscribeAll(listener);
  }

  async stats(): Promise<QueueStats> {
    const c = await this.queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed');
    const queued = (c['waiting'] ?? 0) + (c['prioritized'] ?? 0) + (c['delayed'] ?? 0);
    return { depth: queued, byState: { queued, running: c['active'] ?? 0, succeeded: c['completed'] ?? 0, failed: c['failed'] ?? 0, cancelled: 0 } };
  }

  /** Refuses new jobs; queued and running ones stay in Redis for the workers. */
  async drain(): Promise<void> {
    this.draining = true;
  }

  async close(): Promise<void> {
    this.draining = true;
    await this.queueEvents.close();
    await this.queue.close();
    await Promise.all([this.redis.quit(), this.eventsRedis.quit()].map((p) => p.catch(() => undefined)));
  }

  private listen(): void {
    this.queueEvents.on('progress', ({ jobId, data }) => {
      if (isProgress(data)) this.events.emit(jobId, { type: 'step', ...data });
    });
    this.queueEvents.on('completed', ({ jobId, returnvalue }) => {
      void this.resultOf(jobId, parseResult(returnvalue)).then((result) => {
        this.secondsPerJob = result.secondsPerImage.reduce((a, b) => a + b, 0) || this.secondsPerJob;
        this.events.emit(jobId, { type: 'done', result });
      }, (e: unknown) => this.events.emit(jobId, { type: 'failed', error: `the result could not be read: ${String(e)}` }));
    });
    this.queueEvents.on('failed', ({ jobId, failedReason }) => {
      this.events.emit(jobId, failedReason === CANCELLED_REASON ? { type: 'cancelled' } : { type: 'failed', error: failedReason });
    });
    this.queueEvents.on('removed', ({ jobId }) => {
      void this.redis.exists(this.keys.cancelled(jobId)).then((n) => n && this.events.emit(jobId, { type: 'cancelled' }));
    });
  }

  private async positionOf(id: string): Promise<number> {
    const waiting = await this.queue.getJobs(['waiting'], 0, -1, true);
    return Math.max(0, waiting.findIndex((j) => j.id === id));
  }

  private async cancelledInfo(id: string): Promise<JobInfo | undefined> {
    const mark = await this.redis.get(this.keys.cancelled(id));
    if (!mark) return undefined;
    const { request, createdAt } = JSON.parse(mark) as { request: BullJobData['request']; createdAt: number };
    return { id, state: 'cancelled', createdAt, request };
  }

  private async resultOf(id: string, r: BullJobResult): Promise<JobResult> {
    const pngs = await Promise.all(r.seeds.map((_, i) => this.redis.getBuffer(this.keys.png(id, i))));
    if (pngs.some((p) => p === null)) throw new Error('its images expired');
    return {
      images: pngs.map((png, i) => ({ png: png!, seed: r.seeds[i]! })),
      secondsPerImage: r.secondsPerImage,
      secondsPerStep: r.secondsPerStep,
      promptTruncated: r.promptTruncated,
      worker: r.worker,
    };
  }
}

function toJobState(s: string, job: Job<BullJobData, BullJobResult>): JobState {
  if (s === 'active') return 'running';
  if (s === 'completed') return 'succeeded';
  if (s === 'failed') return job.failedReason === CANCELLED_REASON ? 'cancelled' : 'failed';
  return QUEUED_STATES.includes(s) ? 'queued' : 'failed';
}

function isProgress(v: unknown): v is BullProgress {
  return typeof v === 'object' && v !== null && typeof (v as BullProgress).step === 'number';
}

function parseResult(v: unknown): BullJobResult {
  return (typeof v === 'string' ? JSON.parse(v) : v) as BullJobResult;
}
