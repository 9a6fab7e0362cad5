/** What a generation returns: the image, how it was made, and its PNG with the parameters in it. */
import type { NativeGenerateResult } from '../../types/native.js';
import { batchItem } from './batch.js';
import { DEFAULT_STRENGTH } from './init-image.js';
import { toRgb8 } from './image.js';
import { MAX_SEED } from './rng.js';
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

/** One result per image of the batch (image b from seed + b). */
export function buildResults(input: ResultInput, out: NativeGenerateResult): GenerateResult[] {
  const { noise: _n, signal: _s, onStep: _o, image: initImage, ...rest } = input.options;
  // Image-to-image: the strength as used; the start image itself is left out.
  const used: UsedGenerateOptions = initImage === undefined ? rest : { ...rest, strength: rest.strength ?? DEFAULT_STRENGTH };
  const timings = { textMs: out.msText, denoiseMs: out.msDenoise, decodeMs: out.msDecode, totalMs: performance.now() - input.started };
  return Array.from({ length: out.image.shape[0]! }, (_, b): GenerateResult => {
    const image = toRgb8(batchItem(out.image, b), used.width, used.height);
    const seed = input.seed === null ? null : (input.seed + BigInt(b)) & MAX_SEED;
    const text = pngText(used, seed, input.modelName);
    return {
      image,
      seed,
      timings,
      promptTruncated: input.promptTruncated,
      latents: batchItem(out.latents, b).slice(),
      options: used,
      toPNG: () => encodePng(image, text),
    };
  });
}

function pngText(o: UsedGenerateOptions, seed: bigint | null, model: string): Record<string, string> {
  return {
    ...(o.strength !== undefined ? { strength: String(o.strength) } : {}),
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
