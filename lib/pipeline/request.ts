/** Builds the native engine's request from checked options: prompt tokens, starting noise, sigmas. */
import type { NativeGenerateRequest } from '../../types/native.js';
import { LATENT_CHANNELS, type ResolvedGenerateOptions } from './options.js';
import type { PipelineParts } from './parts.js';
import { randn } from './rng.js';
import { computeSchedule, imageTokenCount } from './schedule.js';

export interface PreparedRequest {
  request: NativeGenerateRequest;
  promptTruncated: boolean;
}

/**
 * Runs synchronously at the call: every input the caller owns (the noise array) is copied here, so
 * changing it after generate() returns changes nothing.
 */
export function buildRequest(o: ResolvedGenerateOptions, seed: bigint | null, parts: PipelineParts): PreparedRequest {
  const { tokenizer } = parts;
  const prompt = tokenizer.encode(o.prompt);
  const negative = o.guidanceScale > 1 ? tokenizer.encode(o.negativePrompt) : undefined;
  const noiseShape = [1, LATENT_CHANNELS, o.height / 8, o.width / 8];
  const noise = seed === null ? o.noise!.slice() : randn(noiseShape, seed);
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
  };
  if (negative) {
    request.negIds = negative.inputIds;
    request.negMask = negative.attentionMask;
  }
  return { request, promptTruncated: prompt.truncated || (negative?.truncated ?? false) };
}
