/**
 * Option schemas of OvisImage.load and generate: defaults, and errors that name the field, the allowed
 * range and the value found.
 */
import { z } from 'zod';
import { OvisError } from '../errors.js';
import type { DownloadProgress } from '../hub/progress.js';
import { MAX_SEED } from './rng.js';

export const LATENT_CHANNELS = 16;
export const MIN_SIDE = 16;
export const MAX_SIDE = 4096;
export const MAX_STEPS = 1000;
export const MAX_GUIDANCE = 100;

export interface LoadProgress {
  /**
   * What is happening: 'download' (fetching a Hub model into the HF cache; `download` has the byte counts),
   * 'resolve' (reading configs and headers), 'tokenizer', 'backend' (the addon and device chosen, and why),
   * 'weights' (native load), 'ready'.
   */
  phase: 'download' | 'resolve' | 'tokenizer' | 'backend' | 'weights' | 'ready';
  message: string;
  /** Only in 'download' events: bytes and files done so far over the whole download. */
  download?: DownloadProgress;
}

export interface StepEvent {
  /** 1-based: the number of denoising steps done. */
  step: number;
  steps: number;
  /** The sigma the step started from. */
  sigma: number;
  /** Milliseconds since the generation started (text encoding included). */
  elapsedMs: number;
  /** Packed latents [1, L, 64] after this step; only with `reportLatents`. */
  latents?: Float32Array;
}

const isFunction = (v: unknown): boolean => typeof v === 'function';
const isSignal = (v: unknown): boolean => v instanceof AbortSignal;

const DEVICE = "must be 'auto', 'cpu', 'cuda' or 'cuda:N'";
const THREADS = 'must be an integer >= 0 (0 = all cores)';
const PRECISION = "must be 'bf16' or 'fp32'";

export const loadOptionsSchema = z.strictObject({
  device: z
    .string({ error: DEVICE })
    .regex(/^(auto|cpu|cuda|cuda:\d+)$/, { error: DEVICE })
    .default('auto'),
  threads: z.number({ error: THREADS }).int({ error: THREADS }).min(0, { error: THREADS }).max(1024, { error: 'must be at most 1024' }).default(0),
  precision: z.enum(['bf16', 'fp32'], { error: PRECISION }).default('bf16'),
  /** Keep the text encoder on the device between generations (default: on the CPU yes, on CUDA no). */
  keepTextEncoder: z.boolean({ error: 'must be a boolean' }).optional(),
  onProgress: z.custom<(p: LoadProgress) => void>(isFunction, { error: 'must be a function' }).optional(),
  signal: z.custom<AbortSignal>(isSignal, { error: 'must be an AbortSignal' }).optional(),
});

export type LoadOptions = z.input<typeof loadOptionsSchema>;
export type ResolvedLoadOptions = z.output<typeof loadOptionsSchema>;

const SIDE = `must be a multiple of 16 in [${MIN_SIDE}, ${MAX_SIDE}]`;
const STEPS = `must be an integer in [1, ${MAX_STEPS}]`;
const GUIDANCE = `must be a number in [0, ${MAX_GUIDANCE}]`;
const SEED = 'must be an integer (number or bigint) in [0, 2^64 - 1]';

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

export const generateOptionsSchema = z
  .strictObject({
    prompt: z.string({ error: 'must be a string' }),
    negativePrompt: z.string({ error: 'must be a string' }).default(''),
    width: side,
    height: side,
    steps: z.number({ error: STEPS }).int({ error: STEPS }).min(1, { error: STEPS }).max(MAX_STEPS, { error: STEPS }).default(50),
    guidanceScale: z.number({ error: GUIDANCE }).min(0, { error: GUIDANCE }).max(MAX_GUIDANCE, { error: GUIDANCE }).default(5.0),
    seed: seed.optional(),
    noise: z.custom<Float32Array>((v) => v instanceof Float32Array, { error: 'must be a Float32Array' }).optional(),
    signal: z.custom<AbortSignal>(isSignal, { error: 'must be an AbortSignal' }).optional(),
    onStep: z.custom<(e: StepEvent) => void>(isFunction, { error: 'must be a function' }).optional(),
    /** Report the packed latents after every step (tests, debugging). */
    reportLatents: z.boolean({ error: 'must be a boolean' }).default(false),
  })
  .superRefine((o, ctx) => {
    if (!o.noise) return;
    const expected = noiseLength(o.width, o.height);
    if (o.noise.length !== expected) {
      ctx.addIssue({
        code: 'custom',
        path: ['noise'],
        message: `must hold exactly ${LATENT_CHANNELS}×${o.height / 8}×${o.width / 8} = ${expected} values for ${o.width}×${o.height} (got ${o.noise.length})`,
      });
    }
  });

export type GenerateOptions = z.input<typeof generateOptionsSchema>;
export type ResolvedGenerateOptions = z.output<typeof generateOptionsSchema>;

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
    throw new OvisError('OVIS_INVALID_OPTIONS', `${what}: options must be an object (got ${describe(options)})`);
  }
  const result = schema.safeParse(options);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    throw new OvisError('OVIS_INVALID_OPTIONS', `${what}: unknown option ${issue.keys.map((k) => `'${k}'`).join(', ')}`);
  }
  const field = issue.path.map(String).join('.') || '(options)';
  const value = issue.path.length ? (options as Record<string, unknown>)[String(issue.path[0])] : options;
  // The noise message already says what was found.
  const got = field === 'noise' && value instanceof Float32Array ? '' : ` (got ${describe(value)})`;
  throw new OvisError('OVIS_INVALID_OPTIONS', `${what}: '${field}' ${issue.message}${got}`);
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'function') return 'a function';
  if (ArrayBuffer.isView(v)) return `${v.constructor.name} of length ${(v as unknown as ArrayLike<unknown>).length}`;
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
  } catch {
    return String(v);
  }
}
