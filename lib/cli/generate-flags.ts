/**
 * `generate`'s flags → the API's generate and load options, all checked before any model is loaded.
 * Ranges come from the API's option schemas; their errors are reworded to name the flags (flag-names.ts).
 */
import { stat } from 'node:fs/promises';
import { parseGenerateOptions, parseLoadOptions, LATENT_CHANNELS, type GenerateOptions, type LoadOptions } from '../pipeline/options.js';
import { MAX_SEED } from '../pipeline/rng.js';
import { readTensorFile } from '../pipeline/tensor-file.js';
import { toFlagError, type TypedValues } from './flag-names.js';
import { readImageFlags, type ImageFlagOptions, type ImageFlagValues } from './generate-extras.js';
import { intFlag, numberFlag } from './flag-values.js';
import { flagError, UsageError } from './usage-error.js';

export const MAX_COUNT = 10_000;

export interface GenerateFlags extends ImageFlagValues {
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
}

export type ImageOptions = Pick<Required<GenerateOptions>, 'prompt' | 'negativePrompt' | 'width' | 'height' | 'steps' | 'guidanceScale'> & {
  noise?: Float32Array;
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
  const sized = Number.isInteger(image.width) && Number.isInteger(image.height);
  if (noise && sized && (noise.width !== image.width || noise.height !== image.height)) {
    throw new UsageError(`--noise ${f.noise}: shape [${noise.shape.join(', ')}] is for ${noise.width}×${noise.height}, not ${image.width}×${image.height}`);
  }
  check(() => parseGenerateOptions(image), typed);
  const firstSeed = noise ? undefined : f.seed === undefined ? randomSeed() : parseSeed(f.seed, count);
  return { count, firstSeed, image, load: parseLoadFlags(f, typed) };
}

function parseLoadFlags(f: GenerateFlags, typed: TypedValues): LoadOptions {
  const load: LoadOptions = {};
  if (f.device !== undefined) load.device = f.device as LoadOptions['device'];
  if (f.threads !== undefined) load.threads = intFlag(f.threads)!;
  if (f.precision !== undefined) load.precision = f.precision as LoadOptions['precision'];
  if (f.keepTextEncoder !== undefined) load.keepTextEncoder = f.keepTextEncoder;
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

async function readNoise(file: string): Promise<NoiseTensor> {
  // A FIFO or a device would block or never end: only regular files (and links to them) are read.
  const st = await stat(file).catch(() => undefined);
  if (st && !st.isFile()) throw new UsageError(`--noise ${file}: not a regular file`);
  const tensors = await readTensorFile(file);
  const noise = tensors.get('noise');
  if (!noise) throw new UsageError(`--noise ${file}: no tensor named "noise" (found: ${[...tensors.keys()].slice(0, 5).join(', ') || 'none'}${tensors.size > 5 ? ', ...' : ''})`);
  const s = noise.shape;
  if (s.length !== 4 || s[0] !== 1 || s[1] !== LATENT_CHANNELS) {
    throw new UsageError(`--noise ${file}: "noise" must have shape [1, ${LATENT_CHANNELS}, H/8, W/8] (got [${s.join(', ')}])`);
  }
  const [height, width] = [s[2]! * 8, s[3]! * 8];
  if (height % 16 !== 0 || width % 16 !== 0) {
    throw new UsageError(`--noise ${file}: shape [${s.join(', ')}] is for ${width}×${height} pixels, but width and height must be multiples of 16 (H/8 and W/8 even)`);
  }
  return { shape: s, data: noise.data, width, height };
}
