/**
 * `generate`'s low-memory flags: `--vae-tile <auto|off|px>` and `--vae-tile-overlap <f>` → the API's
 * `vaeTiling` option, `--offload <mode>` → the load option `offload`. Ranges stay the API's (vae-tiling.ts,
 * the load schema); only what the schema cannot tell apart (which of the two tile flags) is checked here.
 */
import type { Command } from 'commander';
import { VAE_TILE_OVERLAP_RULE, type VaeTilingInput } from '../pipeline/vae-tiling.js';
import { intFlag, numberFlag } from './flag-values.js';
import { flagError, UsageError } from './usage-error.js';

export interface MemoryFlagValues {
  vaeTile?: string;
  vaeTileOverlap?: string;
  offload?: string;
}

export function addMemoryFlags(command: Command): Command {
  return command
    .option('--vae-tile <px>', "VAE in tiles of <px> pixels (diffusers' tiled decode), 'off', or 'auto': only when the whole image would not fit free memory (default: auto)")
    .option('--vae-tile-overlap <f>', 'fraction of a VAE tile blended with its neighbours, in [0, 1) (default: 0.25)')
    .option('--offload <mode>', 'what stays off the device: none, text-encoder, layers (MMDiT blocks streamed in; CUDA) or auto (from free memory)');
}

export function vaeTilingFromFlags(tile: string | undefined, overlap: string | undefined): VaeTilingInput | undefined {
  if (tile === undefined) {
    if (overlap !== undefined) throw new UsageError('--vae-tile-overlap needs --vae-tile <px>');
    return undefined;
  }
  const word = tile.trim();
  if (word === 'auto' || word === 'off') {
    if (overlap !== undefined) throw new UsageError(`--vae-tile-overlap applies to a tile size in pixels, not --vae-tile ${word}`);
    return word === 'off' ? false : 'auto';
  }
  const fraction = numberFlag(overlap);
  if (fraction !== undefined && !(fraction >= 0 && fraction < 1)) throw flagError('--vae-tile-overlap', VAE_TILE_OVERLAP_RULE, overlap);
  return { tile: intFlag(word)!, ...(fraction !== undefined ? { overlap: fraction } : {}) };
}
