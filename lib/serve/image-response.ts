/** Finished jobs → OpenAI Images API payloads (inline base64 or a URL on this server). */
import type { JobInfo, JobResult } from './types.js';

export interface ImageDatum {
  b64_json?: string;
  url?: string;
  /** Ours: the seed that made this image. */
  seed: string;
}

/** Path of image `index` of job `id`; looked up in the queue, never on disk. */
export function imagePath(id: string, index: number): string {
  return `/v1/images/files/${id}/${index}.png`;
}

export function imageData(info: JobInfo, result: JobResult, baseUrl: string): ImageDatum[] {
  return result.images.map((img, i) =>
    info.request.responseFormat === 'url' ? { url: baseUrl + imagePath(info.id, i), seed: img.seed } : { b64_json: img.png.toString('base64'), seed: img.seed },
  );
}

/** The body of a non-streamed POST /v1/images/generations. */
export function imagesResponse(info: JobInfo, result: JobResult, baseUrl: string): { created: number; data: ImageDatum[] } {
  return { created: Math.floor(info.createdAt / 1000), data: imageData(info, result, baseUrl) };
}

/** OpenAI's `image_generation.completed` streamed event, one per image. */
export function completedEvent(info: JobInfo, datum: ImageDatum, index: number): Record<string, unknown> {
  return {
    type: 'image_generation.completed',
    ...datum,
    index,
    created_at: Math.floor(Date.now() / 1000),
    size: `${info.request.width}x${info.request.height}`,
    output_format: 'png',
  };
}

/** OpenAI's `image_generation.partial_image` streamed event: a preview of image `index` during denoising. */
export function partialImageEvent(info: JobInfo, b64: string, partialIndex: number, index: number): Record<string, unknown> {
  return {
    type: 'image_generation.partial_image',
    b64_json: b64,
    partial_image_index: partialIndex,
    index,
    created_at: Math.floor(Date.now() / 1000),
    size: `${info.request.width}x${info.request.height}`,
    output_format: 'png',
  };
}
