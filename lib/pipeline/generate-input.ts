/**
 * generate()'s options with the start image resolved: its bytes decoded, and with no size given, the
 * output size taken from the image (rounded down to multiples of 16).
 */
import { defaultSizeFor, decodeInitImage, isInitImageInput } from './init-image.js';
import { MAX_SIDE, MIN_SIDE, parseGenerateOptions, type ResolvedGenerateOptions } from './options.js';
import type { RgbImage } from './png.js';

export interface GenerateInput {
  options: ResolvedGenerateOptions;
  /** The decoded start image of image-to-image, at its own size. */
  initImage?: RgbImage;
}

export function parseGenerateInput(options: unknown): GenerateInput {
  const raw = options as { image?: unknown; width?: unknown; height?: unknown } | null;
  if (typeof raw !== 'object' || raw === null || !isInitImageInput(raw.image)) return { options: parseGenerateOptions(options) };
  const initImage = decodeInitImage(raw.image);
  if (raw.width !== undefined && raw.height !== undefined) return { options: parseGenerateOptions(options), initImage };
  const size = defaultSizeFor(initImage, [MIN_SIDE, MAX_SIDE]);
  const sized = { ...raw, width: raw.width ?? size.width, height: raw.height ?? size.height };
  return { options: parseGenerateOptions(sized), initImage };
}
