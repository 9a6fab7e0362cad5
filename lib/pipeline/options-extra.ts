/**
 * generate() options of image-to-image, previews and batches (issue 16): their schema fields and the
 * checks that involve several options. Spread into generateOptionsSchema (options.ts).
 */
import { z } from 'zod';
import { DEFAULT_STRENGTH, img2imgStartIndex, isInitImageInput, type InitImageInput } from './init-image.js';

/** Largest `count`: images of one call. */
export const MAX_COUNT = 64;

const IMAGE = 'must be an RGB8 image { width, height, data: Uint8Array of width×height×3 } or the bytes of a PNG or JPEG file';
const STRENGTH = 'must be a number in (0, 1]';
const PREVIEW = "must be false, 'latent' or 'vae'";
const PREVIEW_EVERY = 'must be an integer >= 1';
const COUNT = `must be an integer in [1, ${MAX_COUNT}]`;

export const extraGenerateFields = {
  /** Image-to-image: the start image (see init-image.ts). */
  image: z.custom<InitImageInput>(isInitImageInput, { error: IMAGE }).optional(),
  /** How far the image is re-noised: the schedule is entered at int(steps − steps·strength); default 0.6 with an image. */
  strength: z.number({ error: STRENGTH }).gt(0, { error: STRENGTH }).max(1, { error: STRENGTH }).optional(),
  /** Previews on step events: 'latent' (cheap, 1/8 size) or 'vae' (x̂0 decoded, full size). */
  preview: z.union([z.literal(false), z.literal('latent'), z.literal('vae')], { error: PREVIEW }).default(false),
  /** Previews on steps where step % previewEvery === 0. */
  previewEvery: z.number({ error: PREVIEW_EVERY }).int({ error: PREVIEW_EVERY }).min(1, { error: PREVIEW_EVERY }).default(1),
  /** Images of one call (seeds seed … seed + count − 1), denoised as one batch; generate then resolves to an array. */
  count: z.number({ error: COUNT }).int({ error: COUNT }).min(1, { error: COUNT }).max(MAX_COUNT, { error: COUNT }).optional(),
};

interface ExtraOptions {
  image?: InitImageInput | undefined;
  strength?: number | undefined;
  count?: number | undefined;
  noise?: Float32Array | undefined;
  steps: number;
}

/** Checks across options: strength needs an image and at least one denoising step; noise is one image's. */
export function refineExtraOptions(o: ExtraOptions, ctx: z.RefinementCtx): void {
  if (o.strength !== undefined && o.image === undefined) {
    ctx.addIssue({ code: 'custom', path: ['strength'], message: "needs 'image' (strength is for image-to-image)" });
  }
  if (o.image !== undefined) {
    const strength = o.strength ?? DEFAULT_STRENGTH;
    const start = img2imgStartIndex(o.steps, strength);
    if (o.steps - start < 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['strength'],
        message: `${strength} with 'steps' ${o.steps} leaves fewer than one denoising step (int(steps − steps·strength) = ${start}); raise 'strength' or 'steps'`,
      });
    }
  }
  if (o.noise !== undefined && (o.count ?? 1) > 1) {
    ctx.addIssue({ code: 'custom', path: ['noise'], message: `is the noise of one image: it cannot be used with 'count' ${o.count}` });
  }
}
