/** Prometheus metrics of the server: queue depth, jobs by state, seconds per step and per image. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { JobQueue } from './types.js';

const STEP_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30];
const IMAGE_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600];

/** A registry of its own (not the global one), so two servers in one process do not mix. */
export function createMetrics(queue: JobQueue): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'ovis_' });
  new Gauge({
    name: 'ovis_queue_depth',
    help: 'Jobs waiting to run',
    registers: [registry],
    async collect() {
      this.set((await queue.stats()).depth);
    },
  });
  new Gauge({
    name: 'ovis_jobs',
    help: 'Jobs known to the queue, by state (finished ones until their results expire)',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      for (const [state, count] of Object.entries((await queue.stats()).byState)) this.set({ state }, count);
    },
  });
  const ended = new Counter({ name: 'ovis_jobs_finished_total', help: 'Jobs that ended, by outcome', labelNames: ['outcome'], registers: [registry] });
  const step = new Histogram({ name: 'ovis_step_seconds', help: 'Seconds per denoising step', buckets: STEP_BUCKETS, registers: [registry] });
  const image = new Histogram({ name: 'ovis_image_seconds', help: 'Seconds per image, text encoding and decoding included', buckets: IMAGE_BUCKETS, registers: [registry] });
  queue.subscribeAll((_id, event) => {
    if (event.type === 'done') {
      for (const s of event.result.secondsPerStep) step.observe(s);
      for (const s of event.result.secondsPerImage) image.observe(s);
    }
    if (event.type === 'done' || event.type === 'failed' || event.type === 'cancelled') ended.inc({ outcome: event.type });
  });
  return registry;
}
