/**
 * `generate`'s flags → the API's generate and load options, all checked before any model is loaded.
 * Ranges come from the API's option schemas; their errors are reworded to name the flags (flag-names.ts).
 */
import { parseGenerateOptions, parseLoadOptions, type GenerateOptions, type LoadOptions } from '../pipeline/options.js';
import { MAX_SEED } from '../pipeline/rng.js';
import { OvisError } from '../errors.js';
import { readNoiseFile } from '../pipeline/tensor-file.js';
import { toFlagError, type TypedValues } from './flag-names.js';
import { readImageFlags, type ImageFlagOptions, type ImageFlagValues } from './generate-extras.js';
import type { VaeTilingInput } from '../pipeline/vae-tiling.js';
import { intFlag, numberFlag } from './flag-values.js';
import { flagError, UsageError } from './usage-error.js';
import { vaeTilingFromFlags, type MemoryFlagValues } from './memory-flags.js';

export const MAX_COUNT = 10_000;

export interface GenerateFlags extends ImageFlagValues, MemoryFlagValues {
  prompt: string;
  negative?: string;
  width?: string;
  height?: string;
  steps?: string;
  guidance?: string;
  seed?: string;
  noise?: string;
  count?: string;
  device?: string;
  threads?: string;
  precision?: string;
  keepTextEncoder?: boolean;
  weights?: string;
  textEncoderWeights?: string;
}

export type ImageOptions = Pick<Required<GenerateOptions>, 'prompt' | 'negativePrompt' | 'width' | 'height' | 'steps' | 'guidanceScale'> & {
  noise?: Float32Array;
  vaeTiling?: VaeTilingInput;
} & ImageFlagOptions;

export interface GeneratePlan {
  count: number;
  /** Seed of the first image (image i uses seed + i); undefined with --noise. */
  firstSeed: bigint | undefined;
  /** Options of every image except its seed. */
  image: ImageOptions;
  load: LoadOptions;
}

export async function parseGenerateFlags(f: GenerateFlags, randomSeed: () => bigint): Promise<GeneratePlan> {
  const count = parseCount(f.count);
  if (f.noise !== undefined && f.seed !== undefined) throw new UsageError('--seed and --noise cannot be used together: the noise file replaces the noise a seed makes');
  if (f.noise !== undefined && count > 1) throw new UsageError('--noise gives the noise of one image: it cannot be combined with --count > 1');
  const noise = f.noise === undefined ? undefined : await readNoise(f.noise);
  const typed = typedValues(f);
  const extra = await readImageFlags(f).catch((err: unknown) => {
    throw toFlagError(err, typed);
  });
  const image: ImageOptions = {
    prompt: f.prompt,
    negativePrompt: f.negative ?? '',
    width: intFlag(f.width) ?? noise?.width ?? extra.size?.width ?? 1024,
    height: intFlag(f.height) ?? noise?.height ?? extra.size?.height ?? 1024,
    steps: intFlag(f.steps) ?? 50,
    guidanceScale: numberFlag(f.guidance) ?? 5.0,
    ...(noise ? { noise: noise.data } : {}),
    ...extra.options,
  };
  const vaeTiling = vaeTilingFromFlags(f.vaeTile, f.vaeTileOverlap);
  if (vaeTiling !== undefined) image.vaeTiling = vaeTiling;
  const sized = Number.isInteger(image.width) && Number.isInteger(image.height);
  if (noise && sized && (noise.width !== image.width || noise.height !== image.height)) {
    throw new UsageError(`--noise ${f.noise}: shape [${noise.shape.join(', ')}] is for ${noise.width}×${noise.height}, not ${image.width}×${image.height}`);
  }
  check(() => parseGenerateOptions(image), typed);
  const firstSeed = noise ? undefined : f.seed === undefined ? randomSeed() : parseSeed(f.seed, count);
  return { count, firstSeed, image, load: parseLoadFlags(f, typed) };
}

export function parseLoadFlags(f: GenerateFlags, typed: TypedValues): LoadOptions {
  const load: LoadOptions = {};
  if (f.device !== undefined) load.device = f.device as LoadOptions['device'];
  if (f.threads !== undefined) load.threads = intFlag(f.threads)!;
  if (f.precision !== undefined) load.precision = f.precision as LoadOptions['precision'];
  if (f.keepTextEncoder !== undefined) load.keepTextEncoder = f.keepTextEncoder;
  if (f.weights !== undefined) load.weights = f.weights as LoadOptions['weights'];
  if (f.textEncoderWeights !== undefined) load.textEncoderWeights = f.textEncoderWeights as LoadOptions['textEncoderWeights'];
  if (f.offload !== undefined) load.offload = f.offload as LoadOptions['offload'];
  check(() => parseLoadOptions(load), typed);
  return load;
}

/** Runs an API option check; its error comes back naming the flag. */
function check(parse: () => unknown, typed: TypedValues): void {
  try {
    parse();
  } catch (err) {
    throw toFlagError(err, typed);
  }
}

function typedValues(f: GenerateFlags): TypedValues {
  return {
    prompt: f.prompt,
    negativePrompt: f.negative,
    width: f.width,
    height: f.height,
    steps: f.steps,
    guidanceScale: f.guidance,
    seed: f.seed,
    noise: f.noise,
    image: f.initImage,
    strength: f.strength,
    previewEvery: f.previewEvery,
    device: f.device,
    threads: f.threads,
    precision: f.precision,
    weights: f.weights,
    textEncoderWeights: f.textEncoderWeights,
    vaeTiling: f.vaeTile,
    offload: f.offload,
  };
}

function parseCount(value: string | undefined): number {
  const count = intFlag(value) ?? 1;
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_COUNT) throw flagError('--count', `must be an integer in [1, ${MAX_COUNT}]`, value);
  return count;
}

function parseSeed(value: string, count: number): bigint {
  const rule = 'must be an integer in [0, 2^64 - 1]';
  if (!/^\+?\d+$/.test(value.trim())) throw flagError('--seed', rule, value);
  const seed = BigInt(value.trim());
  if (seed > MAX_SEED) throw flagError('--seed', rule, value);
  if (seed + BigInt(count - 1) > MAX_SEED) throw new UsageError(`--seed ${value} with --count ${count} runs past the largest seed 2^64 - 1`);
  return seed;
}

interface NoiseTensor {
  shape: number[];
  data: Float32Array;
  width: number;
  height: number;
}

/** The noise file through the model loader's safetensors reader (regular files only, sizes checked first). */
async function readNoise(file: string): Promise<NoiseTensor> {
  let noise;
  try {
    noise = await readNoiseFile(file, `--noise ${file}`);
  } catch (err) {
    if (err instanceof OvisError && err.code === 'OVIS_INVALID_OPTIONS') throw new UsageError(err.message, { cause: err });
    throw err;
  }
  return { ...noise, width: noise.shape[3]! * 8, height: noise.shape[2]! * 8 };
}
