import type { DitConfig, SchedulerConfig, TextEncoderConfig, VaeConfig } from './types.js';

/** The released Ovis-Image-7B MMDiT (docs: shared MODEL.md). */
export const RELEASED_DIT: Readonly<DitConfig> = Object.freeze({
  inChannels: 64,
  outChannels: 64,
  numHeads: 24,
  headDim: 128,
  numDouble: 6,
  numSingle: 27,
  contextDim: 2048,
  mlpHidden: 12288,
  axesDims: [16, 56, 56],
  theta: 10000,
  eps: 1e-6,
});

/** The LLM of Ovis2.5-2B (Qwen3). */
export const RELEASED_TEXT_ENCODER: Readonly<TextEncoderConfig> = Object.freeze({
  hidden: 2048,
  layers: 28,
  heads: 16,
  kvHeads: 8,
  headDim: 128,
  intermediate: 6144,
  vocab: 151936,
  eps: 1e-6,
  ropeTheta: 1_000_000,
});

/** The FLUX.1 autoencoder. */
export const RELEASED_VAE: Readonly<VaeConfig> = Object.freeze({
  inChannels: 3,
  outChannels: 3,
  latentChannels: 16,
  blockOutChannels: [128, 256, 512, 512],
  layersPerBlock: 2,
  groups: 32,
  eps: 1e-6,
  scalingFactor: 0.3611,
  shiftFactor: 0.1159,
  midAttention: true,
});

/** The official schedule (dynamic shifting), as in the diffusers scheduler config of the release. */
export const RELEASED_SCHEDULER: Readonly<SchedulerConfig> = Object.freeze({
  baseShift: 0.5,
  maxShift: 1.15,
  baseImageSeqLen: 256,
  maxImageSeqLen: 4096,
  shift: 3.0,
  useDynamicShifting: true,
  numTrainTimesteps: 1000,
  timeShiftType: 'exponential',
});

/** RoPE axis widths for the head dims we know (the rule below gives 32,48,48 for 128, which is wrong). */
const KNOWN_AXES: Readonly<Record<number, readonly number[]>> = { 128: [16, 56, 56] };

/**
 * RoPE axes when no config says: the known table first, else axis 0 = head_dim/4 rounded to even and
 * the rest split evenly between the two spatial axes (head_dim 32 -> 8,12,12, the tiny golden model).
 * Returns undefined when no even split exists.
 */
export function defaultAxesDims(headDim: number): number[] | undefined {
  const known = KNOWN_AXES[headDim];
  if (known) return [...known];
  const a0 = 2 * Math.round(headDim / 8);
  const rest = headDim - a0;
  const a1 = 2 * Math.floor(rest / 4);
  const a2 = rest - a1;
  if (a0 <= 0 || a1 <= 0 || a2 <= 0 || a2 % 2 !== 0) return undefined;
  return [a0, a1, a2];
}
