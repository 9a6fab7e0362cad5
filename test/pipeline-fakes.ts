/**
 * A fake addon engine and tokenizer, so OvisImage and the CLI can be tested without the addon. The
 * fake behaves as cpp/addon does for generate, cancel and dispose, and is wrapped in the real
 * NativeModelEngine, so the package's one queue and abort path are what the tests exercise.
 */
import { NativeModelEngine } from '../lib/native/engine.js';
import { OvisImage } from '../lib/ovis-image.js';
import type { EncodedPrompt, PipelineParts } from '../lib/pipeline/parts.js';
import type { NativeEngine, NativeGenerateRequest, NativeGenerateResult, NativeStepEvent } from '../types/native.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const unsupported = (): Promise<never> => Promise.reject(new Error('fake engine: not implemented'));

export class FakeEngine implements NativeEngine {
  readonly backendName = 'fake';
  readonly requests: NativeGenerateRequest[] = [];
  readonly log: string[] = [];
  stepMs = 5;
  private cancelFlag = false;
  private isDisposed = false;
  private running: Promise<unknown> | undefined;

  get disposed(): boolean {
    return this.isDisposed;
  }

  load = (): Promise<void> => Promise.resolve();
  encodeText = unsupported;
  ditForward = unsupported;
  vaeDecode = unsupported;
  vaeEncode = unsupported;

  generate(req: NativeGenerateRequest, onStep?: (e: NativeStepEvent) => void): Promise<NativeGenerateResult> {
    if (this.isDisposed) return Promise.reject(Object.assign(new Error('disposed'), { code: 'OVIS_DISPOSED' }));
    // NativeModelEngine must never hand the addon a second call while one runs.
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
        if (this.isDisposed) throw Object.assign(new Error('the engine was disposed while this call was running'), { code: 'OVIS_DISPOSED' });
        throw Object.assign(new Error('aborted'), { code: 'ABORT_ERR' });
      }
      const e: NativeStepEvent = { step: k + 1, steps, sigma: req.sigmas[k]! };
      if (req.reportLatents) e.latents = new Float32Array(L * 64).fill(k);
      // As the addon: a throwing onStep cancels the call, which rejects with what was thrown.
      try {
        onStep?.(e);
      } catch (err) {
        this.log.push(`cancelled ${id}`);
        throw err;
      }
    }
    this.log.push(`end ${id}`);
    // The "image" of each batch item: its first 3 noise channels upsampled, so the output depends on the noise.
    const B = req.noiseShape[0]!;
    const H = h * 8;
    const W = w * 8;
    const data = new Float32Array(B * 3 * H * W);
    for (let b = 0; b < B; b++)
      for (let ch = 0; ch < 3; ch++)
        for (let y = 0; y < H; y++)
          for (let x = 0; x < W; x++) data[((b * 3 + ch) * H + y) * W + x] = req.noise[((b * c + ch) * h + (y >> 3)) * w + (x >> 3)]!;
    return {
      image: { data, shape: [B, 3, H, W] },
      latents: { data: new Float32Array(B * L * 64), shape: [B, L, 64] },
      promptEmbeds: { data: new Float32Array(0), shape: [0] },
      msText: 1,
      msDenoise: 2,
      msDecode: 3,
    };
  }

  cancel(): void {
    if (this.running) this.cancelFlag = true;
  }

  /** As the addon: the running call rejects with OVIS_DISPOSED. */
  async dispose(): Promise<void> {
    this.isDisposed = true;
    this.cancelFlag = true;
    await this.running;
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
  const parts: PipelineParts = { engine: NativeModelEngine.wrap(engine), tokenizer: fakeTokenizer, scheduler: {}, dropPrefix: 28, modelName: 'fake-model' };
  return { model: OvisImage.fromParts(parts), engine };
}

