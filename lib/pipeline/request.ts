/** Builds the native engine's request from checked options: prompt tokens, starting noise, sigmas. */
import type { NativeGenerateRequest } from '../../types/native.js';
import { LATENT_CHANNELS, type ResolvedGenerateOptions } from './options.js';
import type { PipelineParts } from './parts.js';
import { batchNoise } from './batch.js';
import { DEFAULT_STRENGTH, resizeImage, toEngineImage } from './init-image.js';
import type { RgbImage } from './png.js';
import { computeSchedule, imageTokenCount } from './schedule.js';
import { nativeVaeTiling } from './vae-tiling.js';

export interface PreparedRequest {
  request: NativeGenerateRequest;
  promptTruncated: boolean;
}

/**
 * Runs synchronously at the call: every input the caller owns (the noise array) is copied here, so
 * changing it after generate() returns changes nothing.
 */
export function buildRequest(o: ResolvedGenerateOptions, seed: bigint | null, parts: PipelineParts, initImage?: RgbImage): PreparedRequest {
  const { tokenizer } = parts;
  const prompt = tokenizer.encode(o.prompt);
  const negative = o.guidanceScale > 1 ? tokenizer.encode(o.negativePrompt) : undefined;
  const noiseShape = [1, LATENT_CHANNELS, o.height / 8, o.width / 8];
  const count = o.count ?? 1;
  // Batches: the noises of seeds seed … seed + count − 1, one after another.
  const noise = seed === null ? o.noise!.slice() : batchNoise(noiseShape, seed, count);
  noiseShape[0] = count;
  const schedule = computeSchedule(o.steps, imageTokenCount(o.width, o.height), parts.scheduler);
  const request: NativeGenerateRequest = {
    ids: prompt.inputIds,
    mask: prompt.attentionMask,
    tokens: prompt.inputIds.length,
    dropPrefix: parts.dropPrefix,
    noise,
    noiseShape,
    sigmas: schedule.sigmas,
    guidance: o.guidanceScale,
    reportLatents: o.reportLatents,
    preview: o.preview || 'none',
    previewEvery: o.previewEvery,
    vaeTiling: nativeVaeTiling(o.vaeTiling),
  };
  if (initImage) {
    request.initImage = toEngineImage(resizeImage(initImage, o.width, o.height));
    request.strength = o.strength ?? DEFAULT_STRENGTH;
  }
  if (negative) {
    request.negIds = negative.inputIds;
    request.negMask = negative.attentionMask;
  }
  return { request, promptTruncated: prompt.truncated || (negative?.truncated ?? false) };
}
