/**
 * Sane ranges of every config value. A value outside them is a damaged or hostile config: it would
 * overflow float32 in the engine (theta 1e-300 becomes 0, then NaN), or make us build millions of
 * tensor entries before any file says otherwise. Ranges are wide: far beyond any real checkpoint.
 */
import { ModelLoadError } from '../errors.js';

/** [min, max] inclusive; `int` when the value must be an integer. */
export interface Limit {
  min: number;
  max: number;
  int?: boolean;
  key?: string; // the config file's name of the field, for messages
}

const channels: Limit = { min: 1, max: 65_536, int: true };
const layers: Limit = { min: 0, max: 1024, int: true };
const eps: Limit = { min: 1e-12, max: 0.1 };
const theta: Limit = { min: 2, max: 1e12 };

export const DIT_LIMITS: Record<string, Limit> = {
  inChannels: { ...channels, key: 'in_channels' },
  outChannels: { ...channels, key: 'out_channels' },
  numHeads: { min: 1, max: 1024, int: true, key: 'num_attention_heads' },
  headDim: { min: 2, max: 1024, int: true, key: 'attention_head_dim' },
  numDouble: { ...layers, key: 'num_layers' },
  numSingle: { ...layers, key: 'num_single_layers' },
  contextDim: { ...channels, key: 'joint_attention_dim' },
  mlpHidden: { min: 1, max: 1_048_576, int: true, key: 'mlp_ratio' },
  theta: { ...theta, key: 'theta' },
  eps,
};

export const TEXT_LIMITS: Record<string, Limit> = {
  hidden: { ...channels, key: 'hidden_size' },
  layers: { min: 1, max: 1024, int: true, key: 'num_hidden_layers' },
  heads: { min: 1, max: 1024, int: true, key: 'num_attention_heads' },
  kvHeads: { min: 1, max: 1024, int: true, key: 'num_key_value_heads' },
  headDim: { min: 2, max: 1024, int: true, key: 'head_dim' },
  intermediate: { min: 1, max: 1_048_576, int: true, key: 'intermediate_size' },
  vocab: { min: 1, max: 4_194_304, int: true, key: 'vocab_size' },
  eps: { ...eps, key: 'rms_norm_eps' },
  ropeTheta: { ...theta, key: 'rope_theta' },
};

export const VAE_LIMITS: Record<string, Limit> = {
  inChannels: { ...channels, key: 'in_channels' },
  outChannels: { ...channels, key: 'out_channels' },
  latentChannels: { ...channels, key: 'latent_channels' },
  layersPerBlock: { min: 1, max: 64, int: true, key: 'layers_per_block' },
  groups: { min: 1, max: 65_536, int: true, key: 'norm_num_groups' },
  eps,
  scalingFactor: { min: 1e-4, max: 1e4, key: 'scaling_factor' },
  shiftFactor: { min: -1e4, max: 1e4, key: 'shift_factor' },
};

export const SCHEDULER_LIMITS: Record<string, Limit> = {
  baseShift: { min: -20, max: 20, key: 'base_shift' },
  maxShift: { min: -20, max: 20, key: 'max_shift' },
  baseImageSeqLen: { min: 1, max: 1e8, int: true, key: 'base_image_seq_len' },
  maxImageSeqLen: { min: 1, max: 1e8, int: true, key: 'max_image_seq_len' },
  shift: { min: 1e-3, max: 1e3, key: 'shift' },
  numTrainTimesteps: { min: 1, max: 1e7, int: true, key: 'num_train_timesteps' },
};

/** VAE resolution levels (block_out_channels entries): the FLUX VAE has 4. */
export const MAX_VAE_LEVELS = 8;

export function describeLimit(l: Limit): string {
  return `${l.int ? 'an integer' : 'a number'} in [${l.min}, ${l.max}]`;
}

export function withinLimit(v: unknown, l: Limit): boolean {
  return typeof v === 'number' && Number.isFinite(v) && v >= l.min && v <= l.max && (!l.int || Number.isInteger(v));
}

/** A short, safe rendering of any value for messages (no recursion into deep or huge values). */
export function describeValue(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (Array.isArray(v)) return v.length <= 8 && v.every((x) => typeof x === 'number') ? `[${v.join(', ')}]` : `an array of ${v.length}`;
  return typeof v === 'object' ? 'an object' : typeof v;
}

/**
 * Checks every field of `config` that has a limit; the error names the component, the file and the
 * field (config-file spelling not known here: the canonical field name).
 */
export function checkLimits(config: object, limits: Record<string, Limit>, component: string, where: string): void {
  for (const [field, limit] of Object.entries(limits)) {
    const v = (config as Record<string, unknown>)[field];
    if (v === undefined) continue;
    if (!withinLimit(v, limit)) {
      throw new ModelLoadError('MODEL_BAD_CONFIG', `${where}: ${component} ${limit.key ? `'${limit.key}' (${field})` : field}: must be ${describeLimit(limit)}, got ${describeValue(v)}`, { file: where });
    }
  }
}
