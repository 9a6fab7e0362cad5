/**
 * The image format an output name asks for: .png (or no extension) → PNG with the parameters in text
 * chunks; .jpg / .jpeg → JPEG (jpeg-js) with them in a comment. Other extensions are refused.
 */
import path from 'node:path';
import jpeg from 'jpeg-js';
import type { GenerateResult } from '../ovis-image.js';
import { readPngText } from '../pipeline/png.js';
import { UsageError } from './usage-error.js';

export type ImageFormat = 'png' | 'jpeg';

export const JPEG_QUALITY = 92;

const FORMAT_OF_EXTENSION: Readonly<Record<string, ImageFormat>> = { '': 'png', '.png': 'png', '.jpg': 'jpeg', '.jpeg': 'jpeg' };

export function imageFormatOf(file: string): ImageFormat {
  const ext = path.extname(file).toLowerCase();
  const format = FORMAT_OF_EXTENSION[ext];
  if (format) return format;
  if (ext === '.webp') {
    throw new UsageError(`-o ${file}: WebP is not supported (no well-kept pure-JavaScript WebP encoder); write .png or .jpg`);
  }
  throw new UsageError(`-o ${file}: unknown image format "${ext}"; use .png, .jpg or .jpeg`);
}

export async function encodeImage(result: GenerateResult, format: ImageFormat): Promise<Buffer> {
  const png = await result.toPNG();
  if (format === 'png') return Buffer.from(png.buffer, png.byteOffset, png.byteLength); // toPNG is typed as a Uint8Array
  const { width, height, data } = result.image;
  const rgba = Buffer.alloc(width * height * 4, 255);
  for (let i = 0, j = 0; i < data.length; i += 3, j += 4) {
    rgba[j] = data[i]!;
    rgba[j + 1] = data[i + 1]!;
    rgba[j + 2] = data[i + 2]!;
  }
  // The same parameters as the PNG's text chunks, as one ASCII-safe JSON comment.
  const comment = `ovis-image ${asciiJson(readPngText(png))}`;
  return jpeg.encode({ width, height, data: rgba, comments: [comment] }, JPEG_QUALITY).data;
}

function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
