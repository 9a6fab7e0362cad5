/**
 * Embedded mode's queue: in-process, bounded, first in first out, one job at a time on the one loaded
 * model. Finished jobs (and their PNGs) are kept for `resultTtlMs`, then forgotten.
 */
import { randomUUID } from 'node:crypto';
import { JobEvents } from './job-events.js';
import type { StepProgress } from './run-job.js';
import { isFinal, QueueFullError, ShuttingDownError, type JobEvent, type JobInfo, type JobQueue, type JobRequest, type JobResult, type JobState, type QueueStats } from './types.js';

export type JobRunner = (request: JobRequest, signal: AbortSignal, onStep: (p: StepProgress) => void) => Promise<JobResult>;

export interface MemoryQueueOptions {
  /** Most jobs waiting (the running one not counted); more are refused with QueueFullError. */
  capacity: number;
  resultTtlMs: number;
}

interface Entry {
  info: JobInfo;
  abort: AbortController;
}

export class MemoryQueue implements JobQueue {
  private readonly jobs = new Map<string, Entry>();
  private readonly waiting: Entry[] = [];
  private readonly events = new JobEvents();
  private running: { entry: Entry; done: Promise<void> } | undefined;
  private draining = false;
  private secondsPerJob = 1;

  constructor(
    private readonly runner: JobRunner,
    private readonly options: MemoryQueueOptions,
  ) {}

  async submit(request: JobRequest): Promise<JobInfo> {
    if (this.draining) throw new ShuttingDownError();
    if (this.waiting.length >= this.options.capacity) throw new QueueFullError(this.options.capacity, Math.max(1, Math.ceil(this.secondsPerJob)));
    const entry: Entry = { info: { id: randomUUID(), state: 'queued', createdAt: Date.now(), request }, abort: new AbortController() };
    this.jobs.set(entry.info.id, entry);
    this.waiting.push(entry);
    this.emit(entry, { type: 'queued', position: this.waiting.length - 1 });
    queueMicrotask(() => this.pump());
    return this.snapshot(entry);
  }

  async get(id: string): Promise<JobInfo | undefined> {
    const entry = this.jobs.get(id);
    return entry && this.snapshot(entry);
  }

  async cancel(id: string): Promise<boolean> {
    const entry = this.jobs.get(id);
    if (!entry || isFinal(entry.info.state)) return false;
    if (entry.info.state === 'queued') {
      this.waiting.splice(this.waiting.indexOf(entry), 1);
      this.finish(entry, 'cancelled', { type: 'cancelled' });
    } else {
      entry.abort.abort();
    }
    return true;
  }

  subscribe(id: string, listener: (event: JobEvent) => void): () => void {
    return this.events.subscribe(id, listener);
  }

  subscribeAll(listener: (id: string, event: JobEvent) => void): () => void {
    return this.events.subscribeAll(listener);
  }

  async stats(): Promise<QueueStats> {
    const byState: Record<JobState, number> = { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 };
    for (const { info } of this.jobs.values()) byState[info.state]++;
    return { depth: this.waiting.length, byState };
  }

  async drain(graceMs: number): Promise<void> {
    this.draining = true;
    for (const entry of this.waiting.splice(0)) this.finish(entry, 'cancelled', { type: 'cancelled' });
    const running = this.running;
    if (!running) return;
    const timer = setTimeout(() => running.entry.abort.abort(), graceMs);
    await running.done;
    clearTimeout(timer);
  }

  async close(): Promise<void> {
    await this.drain(0);
  }

  private snapshot(entry: Entry): JobInfo {
    const info = { ...entry.info };
    if (info.state === 'queued') info.position = this.waiting.indexOf(entry);
    return info;
  }

  private pump(): void {
    if (this.running || this.waiting.length === 0) return;
    const entry = this.waiting.shift()!;
    entry.info.state = 'running';
    entry.info.startedAt = Date.now();
    const started = performance.now();
    const done = this.runner(entry.info.request, entry.abort.signal, (p) => {
      Object.assign(entry.info, { step: p.step, steps: p.steps, image: p.image });
      this.emit(entry, { type: 'step', ...p });
    }).then(
      (result) => {
        this.secondsPerJob = (performance.now() - started) / 1000;
        this.finish(entry, 'succeeded', { type: 'done', result }, result);
      },
      (error: unknown) => {
        if (entry.abort.signal.aborted) this.finish(entry, 'cancelled', { type: 'cancelled' });
        else this.finish(entry, 'failed', { type: 'failed', error: messageOf(error) });
      },
    );
    this.running = { entry, done };
    void done.finally(() => {
      this.running = undefined;
      this.pump();
    });
  }

  private finish(entry: Entry, state: JobState, event: JobEvent, result?: JobResult): void {
    entry.info.state = state;
    entry.info.finishedAt = Date.now();
    if (result) entry.info.result = result;
    if (event.type === 'failed') entry.info.error = event.error;
    this.emit(entry, event);
    setTimeout(() => this.jobs.delete(entry.info.id), this.options.resultTtlMs).unref();
  }

  private emit(entry: Entry, event: JobEvent): void {
    this.events.emit(entry.info.id, event);
  }
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
