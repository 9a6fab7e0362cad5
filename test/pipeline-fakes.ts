/** A fake native engine and tokenizer, so OvisImage and the CLI can be tested without the addon. */
import { OvisImage } from '../lib/ovis-image.js';
import type { EncodedPrompt, PipelineEngine, PipelineParts } from '../lib/pipeline/parts.js';
import type { NativeGenerateRequest, NativeGenerateResult, NativeStepEvent } from '../types/native.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class FakeEngine implements PipelineEngine {
  readonly backendName = 'fake';
  readonly requests: NativeGenerateRequest[] = [];
  readonly log: string[] = [];
  stepMs = 5;
  private cancelFlag = false;
  private isDisposed = false;
  private running: Promise<unknown> | undefined;

  generate(req: NativeGenerateRequest, onStep?: (e: NativeStepEvent) => void): Promise<NativeGenerateResult> {
    if (this.isDisposed) return Promise.reject(Object.assign(new Error('disposed'), { code: 'OVIS_DISPOSED' }));
    if (this.running) throw new Error('fake engine: overlapping generate calls');
    this.cancelFlag = false;
    const p = this.loop(req, onStep).finally(() => (this.running = undefined));
    this.running = p.catch(() => undefined);
    return p;
  }

  private async loop(req: NativeGenerateRequest, onStep?: (e: NativeStepEvent) => void): Promise<NativeGenerateResult> {
    this.requests.push(req);
    const id = this.requests.length;
    this.log.push(`start ${id}`);
    const steps = req.sigmas.length - 1;
    const [, c, h, w] = req.noiseShape as [number, number, number, number];
    const L = (h / 2) * (w / 2);
    for (let k = 0; k < steps; k++) {
      await sleep(this.stepMs);
      if (this.cancelFlag) {
        this.log.push(`cancelled ${id}`);
        throw Object.assign(new Error('aborted'), { code: 'ABORT_ERR' });
      }
      const e: NativeStepEvent = { step: k + 1, steps, sigma: req.sigmas[k]! };
      if (req.reportLatents) e.latents = new Float32Array(L * 64).fill(k);
      onStep?.(e);
    }
    this.log.push(`end ${id}`);
    // The "image": the first 3 noise channels upsampled, so the output depends on the noise.
    const H = h * 8;
    const W = w * 8;
    const data = new Float32Array(3 * H * W);
    for (let ch = 0; ch < 3; ch++)
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++) data[(ch * H + y) * W + x] = req.noise[(ch * h + (y >> 3)) * w + (x >> 3)]!;
    void c;
    return {
      image: { data, shape: [1, 3, H, W] },
      latents: { data: new Float32Array(L * 64), shape: [1, L, 64] },
      promptEmbeds: { data: new Float32Array(0), shape: [0] },
      msText: 1,
      msDenoise: 2,
      msDecode: 3,
    };
  }

  cancel(): void {
    this.cancelFlag = true;
  }

  async dispose(): Promise<void> {
    this.cancelFlag = true;
    await this.running;
    this.isDisposed = true;
    this.log.push('disposed');
  }
}

export const fakeTokenizer = {
  encode(prompt: string): EncodedPrompt {
    const inputIds = new Int32Array(284).fill(151643);
    const attentionMask = new Int32Array(284);
    const n = Math.min(prompt.length + 40, 284);
    for (let i = 0; i < n; i++) {
      inputIds[i] = i < 40 ? i : prompt.charCodeAt(i - 40);
      attentionMask[i] = 1;
    }
    return { inputIds, attentionMask, truncated: prompt.length + 40 > 284 };
  },
};

export function makeModel(): { model: OvisImage; engine: FakeEngine } {
  const engine = new FakeEngine();
  const parts: PipelineParts = { engine, tokenizer: fakeTokenizer, scheduler: {}, dropPrefix: 28, modelName: 'fake-model' };
  return { model: OvisImage.fromParts(parts), engine };
}

