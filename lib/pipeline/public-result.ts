/** What generate() resolves with, as users see it (no zod or Node types, so the typings stand alone). */
import type { RgbImage } from './png.js';

export interface GenerateTimings {
  /** Text encoding of both prompts, in the engine. */
  textMs: number;
  /** The denoising loop. */
  denoiseMs: number;
  /** The VAE decode. */
  decodeMs: number;
  /** From the start of the run to the result, waiting in the queue excluded. */
  totalMs: number;
}

/** The generation options as used, defaults filled in (noise, signal and onStep left out). */
export interface UsedGenerateOptions {
  prompt: string;
  negativePrompt: string;
  width: number;
  height: number;
  steps: number;
  guidanceScale: number;
  /** As given; the seed actually used is GenerateResult#seed. */
  seed?: number | bigint | undefined;
  reportLatents: boolean;
  /** Image-to-image only: the strength used. */
  strength?: number | undefined;
  preview: false | 'latent' | 'vae';
  previewEvery: number;
  /** As given. */
  count?: number | undefined;
  /** VAE tiling as requested ('auto' resolves in the engine), overlap filled in. */
  vaeTiling: false | 'auto' | { tile: number; overlap: number };
}

export interface GenerateResult {
  /** RGB8 pixels, row-major. */
  image: RgbImage;
  /** The seed the noise came from; null when the noise was given directly (`noise`). */
  seed: bigint | null;
  timings: GenerateTimings;
  /** The prompt or the negative prompt was longer than the model's 284-token window and lost its end. */
  promptTruncated: boolean;
  /** Packed latents [1, L, 64] after the last step (L = width/16 × height/16). */
  latents: Float32Array;
  /** The options as used, defaults filled in. */
  options: Readonly<UsedGenerateOptions>;
  /** PNG bytes with the generation parameters in text chunks (prompt, seed, steps, ...). */
  toPNG(): Promise<Uint8Array>;
}
