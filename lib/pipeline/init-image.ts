/**
 * The start image of image-to-image: accepted forms (RGB8 pixels, PNG or JPEG bytes), decoding, the
 * default output size, and the resize to the output size (bilinear interpolation, resize-image-data)
 * into the engine's [1, 3, H, W] float layout in [0, 1]. All synchronous: generate() copies its inputs
 * before it returns.
 */
import jpeg from 'jpeg-js';
import resizeImageData from 'resize-image-data';
import { OvisError } from '../errors.js';
import { decodePng, type RgbImage } from './png.js';

/** RGB8 pixels, or the bytes of a PNG or JPEG file. */
export type InitImageInput = RgbImage | Uint8Array;

/** strength when an image is given and strength is not. */
export const DEFAULT_STRENGTH = 0.6;
/** The resampling filter used when the image's size differs from the output size. */
export const RESIZE_FILTER = 'bilinear-interpolation';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47];
const JPEG_SIGNATURE = [0xff, 0xd8, 0xff];
// Decoding limits for JPEG bytes: far above any useful start image, small enough to fail cleanly.
const MAX_JPEG_MEGAPIXELS = 100;
const MAX_JPEG_MEMORY_MB = 1024;

export function isRgbImage(v: unknown): v is RgbImage {
  if (typeof v !== 'object' || v === null || v instanceof Uint8Array) return false;
  const { width, height, data } = v as Partial<RgbImage>;
  return (
    Number.isInteger(width) && Number.isInteger(height) && width! > 0 && height! > 0 && data instanceof Uint8Array && data.length === width! * height! * 3
  );
}

/** What the options schema accepts for `image` (the bytes are checked when decoded). */
export function isInitImageInput(v: unknown): v is InitImageInput {
  return v instanceof Uint8Array || isRgbImage(v);
}

const invalid = (message: string, cause?: unknown): OvisError =>
  new OvisError('OVIS_INVALID_OPTIONS', `generate: 'image' ${message}`, cause === undefined ? undefined : { cause });

function startsWith(bytes: Uint8Array, signature: number[]): boolean {
  return signature.every((b, i) => bytes[i] === b);
}

/** RGB8 pixels of the start image; PNG and JPEG bytes are decoded (alpha is dropped). */
export function decodeInitImage(input: InitImageInput): RgbImage {
  if (!(input instanceof Uint8Array)) return input;
  const bytes = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (startsWith(bytes, PNG_SIGNATURE)) {
    try {
      const { width, height, data } = decodePng(bytes);
      return { width, height, data };
    } catch (e) {
      throw invalid(`holds PNG bytes that could not be decoded: ${(e as Error).message}`, e);
    }
  }
  if (startsWith(bytes, JPEG_SIGNATURE)) {
    try {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxResolutionInMP: MAX_JPEG_MEGAPIXELS, maxMemoryUsageInMB: MAX_JPEG_MEMORY_MB });
      return { width: img.width, height: img.height, data: img.data };
    } catch (e) {
      throw invalid(`holds JPEG bytes that could not be decoded: ${(e as Error).message}`, e);
    }
  }
  throw invalid(`bytes are neither PNG nor JPEG (they start with ${[...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ') || 'nothing'})`);
}

/** The output size when none is given: the image's, rounded down to multiples of 16, within [min, max]. */
export function defaultSizeFor(image: RgbImage, [MIN_SIDE, MAX_SIDE]: [number, number]): { width: number; height: number } {
  const round = (v: number): number => Math.floor(v / 16) * 16;
  const width = round(image.width);
  const height = round(image.height);
  const ok = (v: number): boolean => v >= MIN_SIDE && v <= MAX_SIDE;
  if (!ok(width) || !ok(height)) {
    throw invalid(
      `is ${image.width}×${image.height}: rounded down to multiples of 16 that is ${width}×${height}, outside [${MIN_SIDE}, ${MAX_SIDE}]; give 'width' and 'height' to resize it`,
    );
  }
  return { width, height };
}

/** The image at width × height (bilinear interpolation when the size differs), as RGB8. */
export function resizeImage(image: RgbImage, width: number, height: number): RgbImage {
  if (image.width === width && image.height === height) return image;
  const rgba = new Uint8Array(image.width * image.height * 4);
  for (let i = 0, j = 0; i < image.data.length; i += 3, j += 4) {
    rgba[j] = image.data[i]!;
    rgba[j + 1] = image.data[i + 1]!;
    rgba[j + 2] = image.data[i + 2]!;
    rgba[j + 3] = 255;
  }
  const out = resizeImageData({ width: image.width, height: image.height, data: rgba }, width, height, RESIZE_FILTER).data;
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
    rgb[i] = out[j]!;
    rgb[i + 1] = out[j + 1]!;
    rgb[i + 2] = out[j + 2]!;
  }
  return { width, height, data: rgb };
}

/** RGB8 HWC → the engine's [1, 3, H, W] in [0, 1] (byte / 255 in float32, as diffusers' image processor). */
export function toEngineImage(image: RgbImage): Float32Array {
  const plane = image.width * image.height;
  const out = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) out[c * plane + p] = image.data[p * 3 + c]! / 255;
  }
  return out;
}

/** The first index of the schedule that image-to-image runs: int(steps − steps·strength) (MODEL.md). */
export function img2imgStartIndex(steps: number, strength: number): number {
  return Math.trunc(Math.max(steps - Math.min(steps * strength, steps), 0));
}
