/** What a generation returns: the image, how it was made, and its PNG with the parameters in it. */
import type { NativeGenerateResult } from '../../types/native.js';
import { toRgb8 } from './image.js';
import type { ResolvedGenerateOptions } from './options.js';
import { encodePng } from './png.js';
import type { GenerateResult, UsedGenerateOptions } from './public-result.js';

/** Names the sampler in PNG metadata. */
export const SAMPLER_NAME = 'euler (flow matching)';

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
