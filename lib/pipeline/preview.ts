/** Live previews: the engine's preview tensors as RGB8 images. */
import type { NativeTensor } from '../../types/native.js';
import { toRgb8 } from './image.js';
import type { RgbImage } from './png.js';

/** What generate's `preview` option asks for. */
export type PreviewMode = false | 'latent' | 'vae';

/** [B, 3, h, w] in [-1, 1] (the engine's preview) → B RGB8 images, mapped like the final image. */
export function previewImages(preview: NativeTensor): RgbImage[] {
  const [batch, channels, height, width] = preview.shape as [number, number, number, number];
  if (preview.shape.length !== 4 || channels !== 3) throw new RangeError(`a preview must be [B, 3, h, w], got [${preview.shape.join(', ')}]`);
  const size = 3 * height * width;
  return Array.from({ length: batch }, (_, b) => toRgb8(preview.data.subarray(b * size, (b + 1) * size), width, height));
}
