/** Runs one job on a loaded model through the public API: n images, seeds seed … seed + n - 1, PNG bytes. */
import type { OvisImage } from '../ovis-image.js';
import { encodePng } from '../pipeline/png.js';
import type { JobRequest, JobResult } from './types.js';

export interface StepProgress {
  step: number;
  steps: number;
  /** Index of the image being made (0-based). */
  image: number;
  /** A preview of the image (base64 PNG) and its number, when partial images were asked for. */
  preview?: string;
  partialIndex?: number;
}

export async function runJob(model: OvisImage, request: JobRequest, signal: AbortSignal, onStep?: (p: StepProgress) => void): Promise<JobResult> {
  const result: JobResult = { images: [], secondsPerImage: [], secondsPerStep: [], promptTruncated: false };
  const partials = request.partialImages ?? 0;
  const every = Math.max(1, Math.floor(request.steps / (partials + 1)));
  for (let image = 0; image < request.n; image++) {
    const seed = BigInt(request.seed) + BigInt(image);
    // Events leave in step order even though encoding a preview is asynchronous.
    let sent: Promise<void> = Promise.resolve();
    let partialIndex = 0;
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
      ...(partials > 0 ? { preview: 'vae' as const, previewEvery: every } : {}),
      onStep: (e) => {
        const p: StepProgress = { step: e.step, steps: e.steps, image };
        const wanted = e.preview && e.step < e.steps && partialIndex < partials;
        const index = wanted ? partialIndex++ : 0;
        const ready = wanted ? encodePng(e.preview!).then((png) => ({ ...p, preview: Buffer.from(png).toString('base64'), partialIndex: index })) : Promise.resolve(p);
        sent = sent.then(() => ready).then((event) => onStep?.(event), () => onStep?.(p));
      },
    });
    await sent;
    const png = await r.toPNG(); // typed as a Uint8Array: wrapped, not copied
    result.images.push({ png: Buffer.from(png.buffer, png.byteOffset, png.byteLength), seed: seed.toString() });
    result.secondsPerImage.push(r.timings.totalMs / 1000);
    result.secondsPerStep.push(r.timings.denoiseMs / 1000 / request.steps);
    result.promptTruncated ||= r.promptTruncated;
  }
  return result;
}
