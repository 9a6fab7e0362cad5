/**
 * The flow-matching sigma schedule (MODEL.md "Schedule"), as diffusers' FlowMatchEulerDiscreteScheduler
 * computes it for Ovis-Image: linspace(1, 1/N, N), shifted by mu (dynamic) or by a fixed shift, then 0 appended.
 */

/**
 * The scheduler settings that matter here (same names as lib/model's SchedulerConfig); missing fields
 * take the Ovis-Image defaults.
 */
export interface ScheduleConfig {
  baseImageSeqLen?: number;
  maxImageSeqLen?: number;
  baseShift?: number;
  maxShift?: number;
  shift?: number;
  numTrainTimesteps?: number;
  useDynamicShifting?: boolean;
  /** diffusers' time_shift_type: 'exponential' (Ovis-Image) or 'linear'. */
  timeShiftType?: string;
}

export const DEFAULT_SCHEDULE_CONFIG: Required<ScheduleConfig> = {
  baseImageSeqLen: 256,
  maxImageSeqLen: 4096,
  baseShift: 0.5,
  maxShift: 1.15,
  shift: 3.0,
  numTrainTimesteps: 1000,
  useDynamicShifting: true,
  timeShiftType: 'exponential',
};

/** Reads the fields of a diffusers scheduler_config.json (snake_case). */
export function scheduleConfigFromJson(json: Record<string, unknown>): ScheduleConfig {
  const num = (k: string): number | undefined => (typeof json[k] === 'number' ? (json[k] as number) : undefined);
  const out: ScheduleConfig = {};
  const set = <K extends keyof ScheduleConfig>(k: K, v: ScheduleConfig[K] | undefined): void => {
    if (v !== undefined) out[k] = v;
  };
  set('baseImageSeqLen', num('base_image_seq_len'));
  set('maxImageSeqLen', num('max_image_seq_len'));
  set('baseShift', num('base_shift'));
  set('maxShift', num('max_shift'));
  set('shift', num('shift'));
  set('numTrainTimesteps', num('num_train_timesteps'));
  if (typeof json.use_dynamic_shifting === 'boolean') out.useDynamicShifting = json.use_dynamic_shifting;
  if (typeof json.time_shift_type === 'string') out.timeShiftType = json.time_shift_type;
  return out;
}

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
  const c = { ...DEFAULT_SCHEDULE_CONFIG, ...config };
  const slope = (c.maxShift - c.baseShift) / (c.maxImageSeqLen - c.baseImageSeqLen);
  const intercept = c.baseShift - slope * c.baseImageSeqLen;
  return imageSeqLen * slope + intercept;
}

export function computeSchedule(steps: number, imageSeqLen: number, config: ScheduleConfig = {}): Schedule {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be an integer >= 1, got ${steps}`);
  const c = { ...DEFAULT_SCHEDULE_CONFIG, ...config };
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

function dynamicShift(s: number, mu: number, type: string): number {
  if (type === 'linear') return mu / (mu + (1 / s - 1));
  const e = Math.exp(mu);
  return e / (e + (1 / s - 1));
}

function fixedShift(s: number, shift: number): number {
  return (shift * s) / (1 + (shift - 1) * s);
}
