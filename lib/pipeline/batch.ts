/** Batches of images in one generate call: their noise, and the engine's batched outputs split per image. */
import type { NativeTensor } from '../../types/native.js';
import { randn, MAX_SEED } from './rng.js';

/** The noises of seeds seed … seed + count − 1 (each the single-image draw), one after another: [count, ...shape[1:]]. */
export function batchNoise(shape: number[], seed: bigint, count: number): Float32Array {
  const one = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(one * count);
  for (let i = 0; i < count; i++) out.set(randn(shape, (seed + BigInt(i)) & MAX_SEED), i * one);
  return out;
}

/** Item b of a batched tensor [B, ...] (a view). */
export function batchItem(t: NativeTensor, b: number): Float32Array {
  const size = t.shape.slice(1).reduce((a, c) => a * c, 1);
  return t.data.subarray(b * size, (b + 1) * size);
}
