/** The engine's decoded image [1, 3, H, W] in [-1, 1] → RGB8 HWC, as diffusers' postprocess does it. */
import type { RgbImage } from './png.js';

export function toRgb8(chw: Float32Array, width: number, height: number): RgbImage {
  const plane = width * height;
  if (chw.length !== 3 * plane) {
    throw new RangeError(`decoded image has ${chw.length} values, expected 3×${height}×${width}`);
  }
  const data = new Uint8Array(plane * 3);
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < plane; p++) {
      // float32 like torch: (v / 2 + 0.5).clamp(0, 1), then numpy's (x * 255).round()
      const v = Math.fround(Math.fround(chw[c * plane + p]! / 2) + 0.5);
      const clamped = v > 1 ? 1 : v > 0 ? v : 0; // NaN → 0
      data[p * 3 + c] = roundHalfEven(Math.fround(clamped * 255));
    }
  }
  return { width, height, data };
}

/** numpy rounds halves to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
