/**
 * The `vaeTiling` generate option: false (whole-image VAE), 'auto' (tile only when the whole decode would not
 * fit the backend's free memory) or { tile, overlap } (diffusers' tiled_decode / _tiled_encode at that tile
 * size in pixels and overlap fraction). The strides rule is the engine's (cpp/engine/model/vae_tiled.cpp):
 * checked here too so a bad pair is refused before any model is loaded.
 */
import { z } from 'zod';
import type { NativeVaeTiling } from '../../types/native.js';

/** The VAE's downscale factor: tiles and strides are whole latents. */
export const VAE_FACTOR = 8;
export const MIN_VAE_TILE = 2 * VAE_FACTOR;
export const MAX_VAE_TILE = 65536;
export const DEFAULT_VAE_TILE_OVERLAP = 0.25;

export const VAE_TILING_RULE = "must be false, 'auto' or { tile, overlap }";
export const VAE_TILE_RULE = `must be a multiple of ${VAE_FACTOR} in [${MIN_VAE_TILE}, ${MAX_VAE_TILE}] px`;
export const VAE_TILE_OVERLAP_RULE = 'must be a number in [0, 1)';

export type VaeTiling = false | 'auto' | { tile: number; overlap: number };
/** What users may pass: the overlap defaults to 0.25. */
export type VaeTilingInput = false | 'auto' | { tile: number; overlap?: number };


/**
 * diffusers' strides (int() of products in double precision, as Python computes them) land on whole latents
 * both ways; otherwise its stitched output would not have the input's size.
 */
export function vaeTileStridesFit(tile: number, overlap: number): boolean {
  const latentTile = tile / VAE_FACTOR;
  const decodeStride = Math.trunc(latentTile * (1 - overlap));
  const decodeKeep = tile - Math.trunc(tile * overlap);
  const encodeStride = Math.trunc(tile * (1 - overlap));
  const encodeKeep = latentTile - Math.trunc(latentTile * overlap);
  return decodeStride > 0 && decodeStride * VAE_FACTOR === decodeKeep && encodeKeep > 0 && encodeStride === encodeKeep * VAE_FACTOR;
}

const tileObject = z
  .strictObject({
    tile: z
      .number({ error: VAE_TILE_RULE })
      .int({ error: VAE_TILE_RULE })
      .min(MIN_VAE_TILE, { error: VAE_TILE_RULE })
      .max(MAX_VAE_TILE, { error: VAE_TILE_RULE })
      .refine((v) => v % VAE_FACTOR === 0, { error: VAE_TILE_RULE }),
    overlap: z
      .number({ error: VAE_TILE_OVERLAP_RULE })
      .min(0, { error: VAE_TILE_OVERLAP_RULE })
      .lt(1, { error: VAE_TILE_OVERLAP_RULE })
      .default(DEFAULT_VAE_TILE_OVERLAP),
  })
  .refine((t) => vaeTileStridesFit(t.tile, t.overlap), {
    path: ['overlap'],
    error: (issue) => {
      const t = issue.input as { tile: number; overlap: number };
      return `with tile ${t.tile} gives strides of ${t.tile * (1 - t.overlap)} px: tile × (1 − overlap) must be a positive multiple of ${VAE_FACTOR}`;
    },
  });

/** false | 'auto' | { tile, overlap = 0.25 }; errors name vaeTiling.tile / vaeTiling.overlap where they can. */
export const vaeTilingSchema = z
  .custom<VaeTilingInput>(() => true)
  .optional()
  .transform((v: unknown, ctx): VaeTiling => {
    if (v === undefined || v === 'auto') return 'auto';
    if (v === false) return false;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      ctx.addIssue({ code: 'custom', message: VAE_TILING_RULE });
      return z.NEVER;
    }
    const r = tileObject.safeParse(v);
    if (r.success) return r.data;
    const issue = r.error.issues[0]!;
    const message = issue.code === 'unrecognized_keys' ? `has unknown field ${issue.keys.map((k) => `'${k}'`).join(', ')} (${VAE_TILING_RULE})` : issue.message;
    ctx.addIssue({ code: 'custom', path: issue.path, message });
    return z.NEVER;
  });

export function nativeVaeTiling(t: VaeTiling): NativeVaeTiling {
  if (t === false) return { mode: 'off', tile: 0, overlap: DEFAULT_VAE_TILE_OVERLAP };
  if (t === 'auto') return { mode: 'auto', tile: 0, overlap: DEFAULT_VAE_TILE_OVERLAP };
  return { mode: 'fixed', tile: t.tile, overlap: t.overlap };
}
