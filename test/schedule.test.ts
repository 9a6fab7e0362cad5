import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveModel } from '../lib/model/index.js';
import { computeMu, computeSchedule, imageTokenCount } from '../lib/pipeline/schedule.js';
import { TINY_DIFFUSERS, linkTree, removeTempDirs, tempDir } from './model-helpers.js';

interface SchedulerCase {
  steps: number;
  image_seq_len: number;
  mu: number;
  sigmas: number[];
  timesteps: number[];
}

const cases = JSON.parse(
  readFileSync(new URL('./fixtures/golden/scheduler/cases.json', import.meta.url), 'utf8'),
) as SchedulerCase[];
// The config as the model loader parses it (the one parser of scheduler_config.json).
const config = (await resolveModel(TINY_DIFFUSERS)).components.scheduler.config;

afterAll(removeTempDirs);

/** The tiny diffusers model with its scheduler_config.json changed by `edit`. */
function modelWithScheduler(edit: Record<string, unknown>): string {
  const dir = tempDir('sched');
  linkTree(TINY_DIFFUSERS, dir);
  const file = path.join(dir, 'scheduler', 'scheduler_config.json');
  const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  rmSync(file);
  writeFileSync(file, JSON.stringify({ ...json, ...edit }));
  return dir;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('schedule', () => {
  it('has golden cases', () => {
    expect(cases.length).toBeGreaterThan(10);
  });

  for (const c of cases) {
    it(`steps=${c.steps} L=${c.image_seq_len} matches the reference`, () => {
      const s = computeSchedule(c.steps, c.image_seq_len, config);
      expect(Math.abs(s.mu! - c.mu)).toBeLessThanOrEqual(1e-6);
      expect(maxAbsDiff(s.sigmas, c.sigmas)).toBeLessThanOrEqual(1e-6);
      // timesteps are ~1000x sigmas: compare relative to their scale.
      expect(maxAbsDiff(s.timesteps, c.timesteps) / 1000).toBeLessThanOrEqual(1e-6);
      expect(s.sigmas[c.steps]).toBe(0);
    });
  }

  it('uses the fixed shift when use_dynamic_shifting is false', () => {
    const s = computeSchedule(4, 4096, { ...config, useDynamicShifting: false, shift: 3 });
    // s = 1, .75, .5, .25 -> 3s / (1 + 2s)
    expect(Array.from(s.sigmas)).toEqual([1, 0.9, 0.75, 0.5, 0].map(Math.fround));
    expect(s.mu).toBeUndefined();
  });

  it('reads scheduler_config.json fields', () => {
    expect(config).toMatchObject({ baseShift: 0.5, maxShift: 1.15, baseImageSeqLen: 256, maxImageSeqLen: 4096 });
    expect(config.useDynamicShifting).toBe(true);
  });

  it('shift depends on the image size', () => {
    expect(imageTokenCount(1024, 1024)).toBe(4096);
    expect(imageTokenCount(80, 48)).toBe(15);
    expect(computeMu(4096)).toBeCloseTo(1.15, 12);
    expect(computeMu(256)).toBeCloseTo(0.5, 12);
  });

  it('rejects zero steps', () => {
    expect(() => computeSchedule(0, 256)).toThrow(RangeError);
  });
});

describe('scheduler config drifts', () => {
  it("honours time_shift_type 'linear' as diffusers computes it: mu / (mu + (1/s - 1))", async () => {
    const model = await resolveModel(modelWithScheduler({ time_shift_type: 'linear' }));
    expect(model.problems).toEqual([]);
    const c = model.components.scheduler.config;
    expect(c.timeShiftType).toBe('linear');
    const steps = 7;
    const L = 1024;
    const s = computeSchedule(steps, L, c);
    const mu = computeMu(L, c);
    for (let k = 0; k < steps; k++) {
      const t = 1 + (k * (1 / steps - 1)) / (steps - 1); // numpy linspace(1, 1/N, N)
      expect(s.sigmas[k]).toBeCloseTo(mu / (mu + (1 / t - 1)), 6);
    }
    // ... and not the exponential shift the released model uses.
    expect(Math.abs(s.sigmas[3]! - computeSchedule(steps, L, config).sigmas[3]!)).toBeGreaterThan(1e-3);
  });

  for (const [field, value] of [
    ['use_karras_sigmas', true],
    ['use_exponential_sigmas', true],
    ['use_beta_sigmas', true],
    ['invert_sigmas', true],
    ['stochastic_sampling', true],
    ['shift_terminal', 0.1],
    ['time_shift_type', 'cosine'],
  ] as const) {
    it(`refuses ${field}: ${String(value)} naming the field`, async () => {
      const model = await resolveModel(modelWithScheduler({ [field]: value }));
      const problem = model.problems.find((p) => p.message.includes(field));
      expect(problem, JSON.stringify(model.problems)).toBeDefined();
      expect(problem!.code).toBe('MODEL_BAD_CONFIG');
    });
  }

  it('accepts those fields at their defaults', async () => {
    const model = await resolveModel(
      modelWithScheduler({ use_karras_sigmas: false, use_beta_sigmas: false, shift_terminal: null, invert_sigmas: false }),
    );
    expect(model.problems).toEqual([]);
  });
});

