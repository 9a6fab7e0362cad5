/** Runs one job on a loaded model through the public API: n images, seeds seed … seed + n - 1, PNG bytes. */
import type { OvisImage } from '../ovis-image.js';
import type { JobRequest, JobResult } from './types.js';

export interface StepProgress {
  step: number;
  steps: number;
  /** Index of the image being made (0-based). */
  image: number;
}

export async function runJob(model: OvisImage, request: JobRequest, signal: AbortSignal, onStep?: (p: StepProgress) => void): Promise<JobResult> {
  const result: JobResult = { images: [], secondsPerImage: [], secondsPerStep: [], promptTruncated: false };
  for (let image = 0; image < request.n; image++) {
    const seed = BigInt(request.seed) + BigInt(image);
    const r = await model.generate({
      prompt: request.prompt,
      negativePrompt: request.negativePrompt,
      width: request.width,
      height: request.height,
      steps: request.steps,
      guidanceScale: request.guidanceScale,
      seed,
      ...(request.image !== undefined ? { image: Buffer.from(request.image, 'base64') } : {}),
      ...(request.strength !== undefined ? { strength: request.strength } : {}),
      signal,
      onStep: (e) => onStep?.({ step: e.step, steps: e.steps, image }),
    });
    const png = await r.toPNG(); // typed as a Uint8Array: wrapped, not copied
    result.images.push({ png: Buffer.from(png.buffer, png.byteOffset, png.byteLength), seed: seed.toString() });
    result.secondsPerImage.push(r.timings.totalMs / 1000);
    result.secondsPerStep.push(r.timings.denoiseMs / 1000 / request.steps);
    result.promptTruncated ||= r.promptTruncated;
  }
  return result;
}
