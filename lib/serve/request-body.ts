/**
 * The body of POST /v1/images/generations and POST /v1/jobs (OpenAI's Images API fields plus ours) →
 * a JobRequest. HTTP-only fields are checked here (zod); the generation fields go through the API's own
 * option schema, so ranges and messages are the API's, reworded to name the request field.
 */
import { z } from 'zod';
import { OvisError } from '../errors.js';
import { decodeInitImage, defaultSizeFor } from '../pipeline/init-image.js';
import { MAX_SIDE, MIN_SIDE, parseGenerateOptions } from '../pipeline/options.js';
import { MAX_SEED, randomSeed } from '../pipeline/rng.js';
import { HttpError } from './http-error.js';
import type { JobRequest } from './types.js';

export const MAX_IMAGES_PER_REQUEST = 10;
export const MAX_PARTIAL_IMAGES = 3;

const N = `must be an integer in [1, ${MAX_IMAGES_PER_REQUEST}]`;
const SIZE = "must be a string 'WxH' such as '1024x1024' (each side a multiple of 16 in [16, 4096])";
const FORMAT = "must be 'b64_json' or 'url'";
const PARTIAL = `must be an integer in [0, ${MAX_PARTIAL_IMAGES}]`;
const IMAGE = 'must be a base64 string of PNG or JPEG bytes';

const bodySchema = z.strictObject({
  prompt: z.unknown().optional(),
  negative_prompt: z.unknown().optional(),
  size: z.string({ error: SIZE }).regex(/^\d{1,5}x\d{1,5}$/, { error: SIZE }).optional(),
  /** Image-to-image: the start image, base64 PNG or JPEG bytes (a data: URL prefix is allowed). */
  image: z.string({ error: IMAGE }).optional(),
  strength: z.unknown().optional(),
  steps: z.unknown().optional(),
  guidance_scale: z.unknown().optional(),
  seed: z.unknown().optional(),
  n: z.number({ error: N }).int({ error: N }).min(1, { error: N }).max(MAX_IMAGES_PER_REQUEST, { error: N }).default(1),
  response_format: z.enum(['b64_json', 'url'], { error: FORMAT }).default('b64_json'),
  stream: z.boolean({ error: 'must be a boolean' }).default(false),
  /** OpenAI's: how many partial images (previews, decoded by the VAE) a stream sends before the final one. */
  partial_images: z.number({ error: PARTIAL }).int({ error: PARTIAL }).min(0, { error: PARTIAL }).max(MAX_PARTIAL_IMAGES, { error: PARTIAL }).default(0),
  // Sent by OpenAI clients; one server serves one model, so these are accepted and ignored.
  model: z.string({ error: 'must be a string' }).optional(),
  user: z.string({ error: 'must be a string' }).optional(),
});

export interface ParsedBody {
  request: JobRequest;
  stream: boolean;
}

/** API option name → request field. */
const FIELD_OF_OPTION: Readonly<Record<string, string>> = {
  prompt: 'prompt',
  negativePrompt: 'negative_prompt',
  width: 'size',
  height: 'size',
  steps: 'steps',
  guidanceScale: 'guidance_scale',
  seed: 'seed',
  image: 'image',
  strength: 'strength',
};

function imageBytes(b64: string): Buffer {
  const body = b64.replace(/^data:image\/[\w+.-]+;base64,/, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw new HttpError(400, `'image' ${IMAGE} (got characters outside base64)`, 'image');
  return Buffer.from(body, 'base64');
}

/** Decodes the start image as the API will; returns its default output size (rounded down to multiples of 16). */
function checkImage(image: Buffer): [number, number] {
  try {
    const { width, height } = defaultSizeFor(decodeInitImage(image), [MIN_SIDE, MAX_SIDE]);
    return [width, height];
  } catch (e) {
    if (e instanceof OvisError && e.code === 'OVIS_INVALID_OPTIONS') throw renameApiError(e.message);
    throw e;
  }
}

export function parseRequestBody(body: unknown, newSeed: () => bigint = randomSeed): ParsedBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'the body must be a JSON object');
  const parsed = bodySchema.safeParse(body);
  if (!parsed.success) throw bodyError(parsed.error.issues[0]!, body as Record<string, unknown>);
  const b = parsed.data;
  const image = b.image === undefined ? undefined : imageBytes(b.image);
  const imageSize = image ? checkImage(image) : undefined; // bad bytes are a 400 now, not a failed job
  const [width, height] = b.size !== undefined ? (b.size.split('x').map(Number) as [number, number]) : (imageSize ?? [1024, 1024]);
  const options = {
    prompt: b.prompt,
    width,
    height,
    ...defined({ negativePrompt: b.negative_prompt, steps: b.steps, guidanceScale: b.guidance_scale, seed: seedValue(b.seed), image, strength: b.strength }),
  };
  const o = checkWithApi(options);
  const seed = o.seed === undefined ? newSeed() : BigInt(o.seed);
  if (seed + BigInt(b.n - 1) > MAX_SEED) throw new HttpError(400, `'seed' ${seed} with n = ${b.n} runs past the largest seed 2^64 - 1`, 'seed');
  const request: JobRequest = {
    prompt: o.prompt,
    negativePrompt: o.negativePrompt,
    width: o.width,
    height: o.height,
    steps: o.steps,
    guidanceScale: o.guidanceScale,
    seed: seed.toString(),
    n: b.n,
    responseFormat: b.response_format,
  };
  if (b.partial_images > 0) request.partialImages = b.partial_images;
  if (image) Object.assign(request, { image: image.toString('base64'), ...(o.strength !== undefined ? { strength: o.strength } : {}) });
  return { request, stream: b.stream };
}

/** JSON numbers lose precision past 2^53: seeds may come as decimal strings too. */
function seedValue(v: unknown): unknown {
  return typeof v === 'string' && /^\d{1,20}$/.test(v) ? BigInt(v) : v;
}

function defined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

function checkWithApi(options: Record<string, unknown>): ReturnType<typeof parseGenerateOptions> {
  try {
    return parseGenerateOptions(options);
  } catch (e) {
    if (e instanceof OvisError && e.code === 'OVIS_INVALID_OPTIONS') throw renameApiError(e.message);
    throw e;
  }
}

/** "generate: 'guidanceScale' must be … (got 101)" → 400 naming 'guidance_scale'. */
function renameApiError(message: string): HttpError {
  const m = /^generate: '(\w+)' (.*)$/s.exec(message);
  const option = m?.[1];
  const field = option === undefined ? undefined : FIELD_OF_OPTION[option];
  if (!m || !field) return new HttpError(400, message.replace(/^generate: /, ''));
  const subject = field === 'size' ? `'size': the ${option}` : `'${field}'`;
  return new HttpError(400, `${subject} ${m[2]}`, field);
}

function bodyError(issue: z.core.$ZodIssue, body: Record<string, unknown>): HttpError {
  if (issue.code === 'unrecognized_keys') {
    const allowed = Object.keys(bodySchema.shape).join(', ');
    return new HttpError(400, `unknown field ${issue.keys.map((k) => `'${k}'`).join(', ')} (allowed: ${allowed})`, issue.keys[0] ?? null);
  }
  const field = String(issue.path[0]);
  return new HttpError(400, `'${field}' ${issue.message} (got ${describe(body[field])})`, field);
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
