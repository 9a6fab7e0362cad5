/**
 * The flow-matching sigma schedule (MODEL.md "Schedule"), as diffusers' FlowMatchEulerDiscreteScheduler
 * computes it for Ovis-Image: linspace(1, 1/N, N), shifted by mu (dynamic) or by a fixed shift, then 0 appended.
 */
import { RELEASED_SCHEDULER } from '../model/defaults.js';
import type { SchedulerConfig } from '../model/types.js';

/** The scheduler settings (lib/model's SchedulerConfig, parsed once from scheduler_config.json); missing fields take the Ovis-Image defaults. */
export type ScheduleConfig = Partial<SchedulerConfig>;

export interface Schedule {
  /** steps + 1 values, float32-rounded like the reference, last one 0. */
  sigmas: Float32Array;
  /** sigmas × num_train_timesteps, `steps` values. */
  timesteps: Float32Array;
  /** The dynamic shift; undefined when the config uses a fixed shift. */
  mu: number | undefined;
}

/** Image token count L of a W×H image: one token per 16×16 pixels (8× VAE, 2×2 packing). */
export function imageTokenCount(width: number, height: number): number {
  return Math.floor(height / 16) * Math.floor(width / 16);
}

/** mu for L image tokens: linear between (base_len, base_shift) and (max_len, max_shift). */
export function computeMu(imageSeqLen: number, config: ScheduleConfig = {}): number {
  const c = { ...RELEASED_SCHEDULER, ...config };
  const slope = (c.maxShift - c.baseShift) / (c.maxImageSeqLen - c.baseImageSeqLen);
  const intercept = c.baseShift - slope * c.baseImageSeqLen;
  return imageSeqLen * slope + intercept;
}

export function computeSchedule(steps: number, imageSeqLen: number, config: ScheduleConfig = {}): Schedule {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be an integer >= 1, got ${steps}`);
  const c = { ...RELEASED_SCHEDULER, ...config };
  const mu = c.useDynamicShifting ? computeMu(imageSeqLen, c) : undefined;
  const sigmas = new Float32Array(steps + 1);
  const timesteps = new Float32Array(steps);
  for (let k = 0; k < steps; k++) {
    // numpy linspace(1, 1/N, N): start + k * (stop - start) / (N - 1), the last point exact.
    const s = steps === 1 ? 1 : k === steps - 1 ? 1 / steps : 1 + (k * (1 / steps - 1)) / (steps - 1);
    const sigma = mu === undefined ? fixedShift(s, c.shift) : dynamicShift(s, mu, c.timeShiftType);
    sigmas[k] = sigma;
    // diffusers multiplies the float32 sigmas, so round first.
    timesteps[k] = Math.fround(sigma) * c.numTrainTimesteps;
  }
  sigmas[steps] = 0;
  return { sigmas, timesteps, mu };
}

function dynamicShift(s: number, mu: number, type: SchedulerConfig["timeShiftType"]): number {
  if (type === 'linear') return mu / (mu + (1 / s - 1));
  const e = Math.exp(mu);
  return e / (e + (1 / s - 1));
}

function fixedShift(s: number, shift: number): number {
  return (shift * s) / (1 + (shift - 1) * s);
}
