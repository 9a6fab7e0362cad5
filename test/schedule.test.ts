import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { computeMu, computeSchedule, imageTokenCount, scheduleConfigFromJson } from '../lib/pipeline/schedule.js';

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
const config = scheduleConfigFromJson(
  JSON.parse(
    readFileSync(new URL('./fixtures/golden/tiny-diffusers/scheduler/scheduler_config.json', import.meta.url), 'utf8'),
  ) as Record<string, unknown>,
);

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
