import type { ModelLoadErrorCode } from '../errors.js';
import type { PlanDType, StoredDType } from './dtype.js';

export type ComponentName = 'transformer' | 'textEncoder' | 'vae' | 'tokenizer' | 'scheduler';

/** What makes a file the same file (docs/WEIGHTS.md `file` lines): the engine maps only a match. */
export interface FileIdentity {
  size: bigint;
  mtimeNs: bigint;
  dev: bigint;
  ino: bigint;
}

/** One tensor as stored in a safetensors or GGUF file. */
export interface StoredTensor {
  key: string;
  file: string; // absolute path
  dtype: StoredDType;
  shape: number[]; // PyTorch order (outermost first), also for GGUF files
  offset: number; // absolute byte offset of the first element in `file`
  byteLength: number;
}

/** The tensors of one component, gathered from one file or from the shards of an index. */
export interface TensorSource {
  files: string[];
  tensors: Map<string, StoredTensor>;
  identities: Map<string, FileIdentity>; // by absolute path: each file as its header was read
}

/** Something wrong with a checkpoint; `info` lists them all, loading throws the first. */
export interface ModelProblem {
  code: ModelLoadErrorCode;
  component: ComponentName | undefined;
  message: string;
  file: string | undefined;
  tensor: string | undefined;
}

export interface DitConfig {
  inChannels: number;
  outChannels: number;
  numHeads: number;
  headDim: number;
  numDouble: number;
  numSingle: number;
  contextDim: number;
  mlpHidden: number;
  axesDims: number[];
  theta: number;
  eps: number;
}

export interface TextEncoderConfig {
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  intermediate: number;
  vocab: number;
  eps: number;
  ropeTheta: number;
}

export interface VaeConfig {
  inChannels: number;
  outChannels: number;
  latentChannels: number;
  blockOutChannels: number[];
  layersPerBlock: number;
  groups: number;
  eps: number;
  scalingFactor: number;
  shiftFactor: number;
  midAttention: boolean;
}

export interface SchedulerConfig {
  baseShift: number;
  maxShift: number;
  baseImageSeqLen: number;
  maxImageSeqLen: number;
  shift: number;
  useDynamicShifting: boolean;
  numTrainTimesteps: number;
  /** diffusers' time_shift_type: how mu shifts the sigmas ('exponential' for Ovis-Image). */
  timeShiftType: 'exponential' | 'linear';
}

/** Where a config came from: a file, tensor shapes, or the released model's defaults. */
export type ConfigSource = { kind: 'file'; file: string } | { kind: 'inferred'; from: string } | { kind: 'defaults' };

export type WeightFormat = 'diffusers' | 'original';

export type { PlanDType };
