/**
 * `generate` flags of image-to-image and live previews: --init-image, --strength, --preview,
 * --preview-mode, --preview-every, turned into generate() options (their ranges are the API schema's),
 * and the preview file, rewritten atomically at each preview so an image viewer can watch it.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { decodeInitImage, defaultSizeFor } from '../pipeline/init-image.js';
import { MAX_SIDE, MIN_SIDE, type StepEvent } from '../pipeline/options.js';
import { encodePng } from '../pipeline/png.js';
import { intFlag, numberFlag } from './flag-values.js';
import { prepareOutputs, writeOutput, type OutputTarget } from './output-file.js';
import { flagError, UsageError } from './usage-error.js';

export interface ImageFlagValues {
  initImage?: string;
  strength?: string;
  preview?: string;
  previewMode?: string;
  previewEvery?: string;
}

/** What these flags add to generate()'s options. */
export interface ImageFlagOptions {
  image?: Uint8Array;
  strength?: number;
  preview?: 'latent' | 'vae';
  previewEvery?: number;
}

export function addImageFlags(command: Command): Command {
  return command
    .option('--init-image <file>', 'image-to-image: start from this PNG or JPEG (output size: its own, rounded down to multiples of 16, unless --width/--height)')
    .option('--strength <s>', 'image-to-image: how much of the schedule runs, in (0, 1] (default: 0.6)')
    .option('--preview <file.png>', 'write a live preview of the (first) image being denoised to this PNG, replaced atomically')
    .option('--preview-mode <mode>', 'latent (fast, 1/8 size) or vae (decoded, full size) (default: latent)')
    .option('--preview-every <n>', 'preview every n-th step (default: 1)');
}

/** The options these flags give, and the start image's default output size (its own, rounded down to 16). */
export async function readImageFlags(f: ImageFlagValues): Promise<{ options: ImageFlagOptions; size?: { width: number; height: number } }> {
  const options: ImageFlagOptions = {};
  let size: { width: number; height: number } | undefined;
  if (f.initImage !== undefined) {
    options.image = await readImageFile(f.initImage);
    size = defaultSizeFor(decodeInitImage(options.image), [MIN_SIDE, MAX_SIDE]);
  }
  if (f.strength !== undefined) options.strength = numberFlag(f.strength)!;
  if ((f.previewMode !== undefined || f.previewEvery !== undefined) && f.preview === undefined) {
    throw new UsageError('--preview-mode and --preview-every need --preview <file.png>');
  }
  if (f.preview !== undefined) {
    if (f.previewMode !== undefined && f.previewMode !== 'latent' && f.previewMode !== 'vae') throw flagError('--preview-mode', 'must be latent or vae', f.previewMode);
    options.preview = (f.previewMode as 'latent' | 'vae' | undefined) ?? 'latent';
    if (f.previewEvery !== undefined) options.previewEvery = intFlag(f.previewEvery)!;
  }
  return { options, size };
}

async function readImageFile(file: string): Promise<Uint8Array> {
  // A FIFO or a device would block or never end: only regular files (and links to them) are read.
  const st = await stat(file).catch(() => undefined);
  if (!st) throw new UsageError(`--init-image ${file}: no such file`);
  if (!st.isFile()) throw new UsageError(`--init-image ${file}: not a regular file`);
  return readFile(file);
}

/** The checked --preview target (a .png name), before the model loads. */
export async function preparePreview(file: string | undefined): Promise<OutputTarget | undefined> {
  if (file === undefined) return undefined;
  if (path.extname(file).toLowerCase() !== '.png') throw flagError('--preview', 'must name a .png file', file);
  return (await prepareOutputs(file, 1))[0];
}

/**
 * Wraps a step callback so each step's preview (the first image's) replaces the preview file. Writes
 * never overlap: a preview arriving while the previous one is written waits for it.
 */
export function previewFileWriter(target: OutputTarget | undefined, onStep: (e: StepEvent) => void): { onStep: (e: StepEvent) => void; flush: () => Promise<void> } {
  if (target === undefined) return { onStep, flush: async () => {} };
  let writing: Promise<void> = Promise.resolve();
  let failure: unknown;
  return {
    onStep(e) {
      onStep(e);
      const image = e.preview;
      if (!image) return;
      writing = writing
        .then(async () => {
          const png = await encodePng(image);
          await writeOutput(target, Buffer.from(png.buffer, png.byteOffset, png.byteLength));
        })
        .catch((err: unknown) => {
          failure ??= err;
        });
    },
    async flush() {
      await writing;
      if (failure) throw failure;
    },
  };
}
