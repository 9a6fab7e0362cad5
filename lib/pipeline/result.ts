/** What a generation returns: the image, how it was made, and its PNG with the parameters in it. */
import type { NativeGenerateResult } from '../../types/native.js';
import { toRgb8 } from './image.js';
import type { ResolvedGenerateOptions } from './options.js';
import { encodePng, type RgbImage } from './png.js';

/** Names the sampler in PNG metadata. */
export const SAMPLER_NAME = 'euler (flow matching)';

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

export interface ResultInput {
  options: ResolvedGenerateOptions;
  seed: bigint | null;
  promptTruncated: boolean;
  modelName: string;
  /** performance.now() when the run started. */
  started: number;
}

export function buildResult(input: ResultInput, out: NativeGenerateResult): GenerateResult {
  const { noise: _n, signal: _s, onStep: _o, ...rest } = input.options;
  const used: UsedGenerateOptions = rest;
  const image = toRgb8(out.image.data, used.width, used.height);
  const text = pngText(used, input.seed, input.modelName);
  return {
    image,
    seed: input.seed,
    timings: { textMs: out.msText, denoiseMs: out.msDenoise, decodeMs: out.msDecode, totalMs: performance.now() - input.started },
    promptTruncated: input.promptTruncated,
    latents: out.latents.data,
    options: used,
    toPNG: () => encodePng(image, text),
  };
}

function pngText(o: UsedGenerateOptions, seed: bigint | null, model: string): Record<string, string> {
  return {
    prompt: o.prompt,
    negative_prompt: o.negativePrompt,
    steps: String(o.steps),
    guidance: String(o.guidanceScale),
    seed: seed === null ? 'custom noise' : String(seed),
    size: `${o.width}x${o.height}`,
    sampler: SAMPLER_NAME,
    model,
    Software: 'ovis-image',
  };
}
