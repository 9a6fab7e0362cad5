/**
 * Option schemas of OvisImage.load and generate: defaults, and errors that name the field, the allowed
 * range and the value found. The documented option types are in public-options.ts.
 */
import { z } from 'zod';
import { OvisError } from '../errors.js';
import { DEVICE_RULE, isDevice, isThreadCount, resolveThreads, THREADS_RULE, type Device } from '../native/engine-limits.js';
import type { GenerateOptions, LoadOptions, LoadProgress, StepEvent } from './public-options.js';
import { describeValue } from './describe-value.js';
import { MAX_PROMPT_CHARS } from '../tokenizer/limits.js';
import { WEIGHT_TYPES } from '../model/plan-quantize.js';
import { MAX_SEED } from './rng.js';
import { extraGenerateFields, refineExtraOptions } from './options-extra.js';
import { vaeTilingSchema } from './vae-tiling.js';

export type { GenerateOptions, LoadOptions, LoadProgress, StepEvent } from './public-options.js';

export const LATENT_CHANNELS = 16;
export const MIN_SIDE = 16;
export const MAX_SIDE = 4096;
export const MAX_STEPS = 1000;
export const MAX_GUIDANCE = 100;
export { MAX_PROMPT_CHARS };

const isFunction = (v: unknown): boolean => typeof v === 'function';
const isSignal = (v: unknown): boolean => v instanceof AbortSignal;

const PRECISION = "must be 'bf16' or 'fp32'";
const WEIGHTS = `must be one of ${WEIGHT_TYPES.map((t) => `'${t}'`).join(', ')}`;
const OFFLOAD = "must be 'none', 'text-encoder', 'layers' or 'auto'";

export const loadOptionsSchema = z.strictObject({
  device: z.custom<Device>(isDevice, { error: DEVICE_RULE }).default('auto'),
  threads: z
    .custom<number>(isThreadCount, { error: THREADS_RULE })
    .transform((t) => resolveThreads(t))
    .default(0),
  /** No default here: it depends on the device (CUDA 'bf16', CPU 'fp32'), chosen by the native engine options. */
  precision: z.enum(['bf16', 'fp32'], { error: PRECISION }).optional(),
  keepTextEncoder: z.boolean({ error: 'must be a boolean' }).optional(),
  /** MMDiT Linear weights: 'bf16' = as stored, or quantized on load to a ggml block format. */
  weights: z.enum(WEIGHT_TYPES, { error: WEIGHTS }).default('bf16'),
  /** The same for the text encoder's Linear weights. */
  textEncoderWeights: z.enum(WEIGHT_TYPES, { error: WEIGHTS }).default('bf16'),
  /**
   * What stays off the device: 'none', 'text-encoder' (= keepTextEncoder: false), 'layers' (also the MMDiT's
   * blocks, streamed to the device a window at a time; CUDA) or 'auto' (chosen from free memory).
   */
  offload: z.enum(['none', 'text-encoder', 'layers', 'auto'], { error: OFFLOAD }).optional(),
  onProgress: z.custom<(p: LoadProgress) => void>(isFunction, { error: 'must be a function' }).optional(),
  signal: z.custom<AbortSignal>(isSignal, { error: 'must be an AbortSignal' }).optional(),
}).superRefine((o, ctx) => {
  if (o.offload !== undefined && o.keepTextEncoder !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['offload'], message: "cannot be combined with 'keepTextEncoder' ('none' keeps the text encoder, 'text-encoder' frees it)" });
  }
});

export type ResolvedLoadOptions = z.output<typeof loadOptionsSchema>;

const SIDE = `must be a multiple of 16 in [${MIN_SIDE}, ${MAX_SIDE}]`;
const STEPS = `must be an integer in [1, ${MAX_STEPS}]`;
const GUIDANCE = `must be a number in [0, ${MAX_GUIDANCE}]`;
const SEED = 'must be an integer (number or bigint) in [0, 2^64 - 1]';
const PROMPT = `must be a string of at most ${MAX_PROMPT_CHARS} characters`;

const side = z
  .number({ error: SIDE })
  .int({ error: SIDE })
  .min(MIN_SIDE, { error: SIDE })
  .max(MAX_SIDE, { error: SIDE })
  .refine((v) => v % 16 === 0, { error: SIDE })
  .default(1024);

const seed = z.custom<number | bigint>(
  (v) =>
    (typeof v === 'bigint' && v >= 0n && v <= MAX_SEED) ||
    (typeof v === 'number' && Number.isInteger(v) && v >= 0 && BigInt(v) <= MAX_SEED),
  { error: SEED },
);

const prompt = z.string({ error: PROMPT }).max(MAX_PROMPT_CHARS, { error: PROMPT });

/** Marks custom issues whose message already says what was found. */
const SAYS_FOUND = { saysFound: true };

export const generateOptionsSchema = z
  .strictObject({
    prompt,
    negativePrompt: prompt.default(''),
    width: side,
    height: side,
    steps: z.number({ error: STEPS }).int({ error: STEPS }).min(1, { error: STEPS }).max(MAX_STEPS, { error: STEPS }).default(50),
    guidanceScale: z.number({ error: GUIDANCE }).min(0, { error: GUIDANCE }).max(MAX_GUIDANCE, { error: GUIDANCE }).default(5.0),
    seed: seed.optional(),
    noise: z.custom<Float32Array>((v) => v instanceof Float32Array, { error: 'must be a Float32Array' }).optional(),
    signal: z.custom<AbortSignal>(isSignal, { error: 'must be an AbortSignal' }).optional(),
    onStep: z.custom<(e: StepEvent) => void>(isFunction, { error: 'must be a function' }).optional(),
    reportLatents: z.boolean({ error: 'must be a boolean' }).default(false),
    ...extraGenerateFields,
    /** VAE tiling: false, 'auto' (default: only when the whole image would not fit free memory) or { tile, overlap }. */
    vaeTiling: vaeTilingSchema,
  })
  .superRefine((o, ctx) => {
    refineExtraOptions(o, ctx);
    if (!o.noise) return;
    if (o.seed !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['seed'], message: "cannot be combined with 'noise' (the noise replaces the seeded draw; leave one out)", params: SAYS_FOUND });
      return;
    }
    const expected = noiseLength(o.width, o.height);
    if (o.noise.length !== expected) {
      ctx.addIssue({
        code: 'custom',
        path: ['noise'],
        message: `must hold exactly ${LATENT_CHANNELS}×${o.height / 8}×${o.width / 8} = ${expected} values for ${o.width}×${o.height} (got ${o.noise.length})`,
        params: SAYS_FOUND,
      });
    }
  });

export type ResolvedGenerateOptions = z.output<typeof generateOptionsSchema>;

// The documented types and the schemas must name the same fields (a field added to one only fails to compile).
type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never] ? true : never;
const loadKeysMatch: SameKeys<LoadOptions, z.input<typeof loadOptionsSchema>> = true;
const generateKeysMatch: SameKeys<GenerateOptions, z.input<typeof generateOptionsSchema>> = true;
void loadKeysMatch;
void generateKeysMatch;

/** Element count of the initial noise [1, 16, H/8, W/8]. */
export function noiseLength(width: number, height: number): number {
  return LATENT_CHANNELS * (height / 8) * (width / 8);
}

export function parseLoadOptions(options: unknown): ResolvedLoadOptions {
  return parseOptions(loadOptionsSchema, options ?? {}, 'load');
}

export function parseGenerateOptions(options: unknown): ResolvedGenerateOptions {
  return parseOptions(generateOptionsSchema, options, 'generate');
}

function parseOptions<T>(schema: z.ZodType<T>, options: unknown, what: string): T {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new OvisError('OVIS_INVALID_OPTIONS', `${what}: options must be an object (got ${describeValue(options)})`);
  }
  const result = schema.safeParse(options);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    throw new OvisError('OVIS_INVALID_OPTIONS', `${what}: unknown option ${issue.keys.map((k) => `'${k}'`).join(', ')}`);
  }
  const field = issue.path.map(String).join('.') || '(options)';
  const value = issue.path.length ? (options as Record<string, unknown>)[String(issue.path[0])] : options;
  const saysFound = issue.code === 'custom' && (issue.params as { saysFound?: boolean } | undefined)?.saysFound === true;
  const got = saysFound ? '' : ` (got ${describeValue(value)})`;
  throw new OvisError('OVIS_INVALID_OPTIONS', `${what}: '${field}' ${issue.message}${got}`);
}
