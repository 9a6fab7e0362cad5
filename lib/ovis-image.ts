/**
 * The public text-to-image API: OvisImage.load(model) → generate / stream → dispose.
 * The native engine runs the whole loop (text encoding, Euler + CFG, VAE decode); this class validates
 * options, tokenizes, makes the noise and the schedule, queues calls, and turns the output into an image.
 */
import { AbortError, OvisError } from './errors.js';
import { loadPipelineParts, type ModelSource } from './pipeline/load-parts.js';
import { EventChannel } from './pipeline/event-channel.js';
import { toRgb8 } from './pipeline/image.js';
import {
  LATENT_CHANNELS,
  parseGenerateOptions,
  parseLoadOptions,
  type GenerateOptions,
  type LoadOptions,
  type ResolvedGenerateOptions,
  type StepEvent,
} from './pipeline/options.js';
import type { PipelineParts } from './pipeline/parts.js';
import { encodePng, type RgbImage } from './pipeline/png.js';
import { randn, randomSeed } from './pipeline/rng.js';
import { computeSchedule, imageTokenCount } from './pipeline/schedule.js';
import { SerialQueue } from './pipeline/serial-queue.js';
import type { NativeGenerateRequest } from '../types/native.js';
import type { BackendInfo } from './native/binding.js';

export const SAMPLER_NAME = 'euler (flow matching)';

export interface GenerateTimings {
  /** Text encoding of both prompts, in the engine. */
  textMs: number;
  denoiseMs: number;
  decodeMs: number;
  /** From the call to the result, waiting in the queue excluded. */
  totalMs: number;
}

export interface GenerateResult {
  image: RgbImage;
  /** The seed the noise came from; null when the noise was given directly. */
  seed: bigint | null;
  timings: GenerateTimings;
  /** The prompt or the negative prompt was too long and lost its end. */
  promptTruncated: boolean;
  /** Packed latents [1, L, 64] after the last step. */
  latents: Float32Array;
  /** The options as used, defaults filled in. */
  options: Readonly<Omit<ResolvedGenerateOptions, 'noise' | 'signal' | 'onStep'>>;
  /** PNG bytes with the generation parameters in text chunks. */
  toPNG(): Promise<Buffer>;
}

export type GenerateEvent = ({ type: 'step' } & StepEvent) | { type: 'result'; result: GenerateResult };

export class OvisImage implements AsyncDisposable {
  private readonly parts: PipelineParts;
  private readonly queue = new SerialQueue();
  private isDisposed = false;
  private disposing: Promise<void> | undefined;
  /** Rejects the running generation's wait when dispose() is called. */
  private running: { onDispose: () => void } | undefined;

  private constructor(parts: PipelineParts) {
    this.parts = parts;
  }

  /**
   * Loads a model: a diffusers folder, the official single files, their paths listed one by one, or a
   * Hugging Face model id `owner/name[@revision]` (downloaded into the shared HF cache once; an existing
   * local path of that name wins). Options: device ('auto' | 'cpu' | 'cuda' | 'cuda:N'), threads,
   * precision ('bf16' | 'fp32'), keepTextEncoder (keep the text encoder's weights on the device between
   * generations; default: yes on the CPU, no on CUDA, where they are freed while denoising), onProgress
   * (download bytes included), signal.
   */
  static async load(model: ModelSource, options: LoadOptions = {}): Promise<OvisImage> {
    const o = parseLoadOptions(options);
    return new OvisImage(await loadPipelineParts(model, o));
  }

  /** Wraps already-built parts (custom engines, tests). */
  static fromParts(parts: PipelineParts): OvisImage {
    return new OvisImage(parts);
  }

  /** The backend running the model, e.g. 'cpu' or 'cuda:0'. */
  get backend(): string {
    return this.parts.engine.backendName;
  }

  /** Which addon file and device run the model, and why they were chosen (device 'auto' says which and why). */
  get backendInfo(): BackendInfo {
    const name = this.parts.engine.backendName;
    return (
      this.parts.backendInfo ?? {
        requested: name,
        backend: name.startsWith('cuda') ? 'cuda' : 'cpu',
        device: name,
        addonPath: '',
        addonSource: 'custom',
        reason: 'a custom engine was given (OvisImage.fromParts)',
      }
    );
  }

  get disposed(): boolean {
    return this.isDisposed;
  }

  /**
   * Generates one image. Calls on one model run one after another, in call order.
   * Rejects with OvisError('OVIS_INVALID_OPTIONS') on bad options, AbortError when `signal` fires
   * (the model stays usable), OvisError('OVIS_DISPOSED') after dispose().
   */
  generate(options: GenerateOptions): Promise<GenerateResult> {
    let o: ResolvedGenerateOptions;
    try {
      this.throwIfDisposed();
      o = parseGenerateOptions(options);
      throwIfAborted(o.signal);
    } catch (e) {
      return Promise.reject(e);
    }
    const seed = o.noise ? (o.seed === undefined ? null : BigInt(o.seed)) : BigInt(o.seed ?? randomSeed());
    return this.enqueue(o, seed);
  }

  /** Like generate, as events: one { type: 'step' } per denoising step, then { type: 'result' }. Breaking out of the loop cancels. */
  stream(options: GenerateOptions): AsyncIterableIterator<GenerateEvent> {
    const stop = new AbortController();
    const channel = new EventChannel<GenerateEvent>(() => stop.abort());
    const user: unknown = options;
    const o = user as Partial<GenerateOptions> | null;
    const wrappable =
      typeof o === 'object' &&
      o !== null &&
      (o.signal === undefined || o.signal instanceof AbortSignal) &&
      (o.onStep === undefined || typeof o.onStep === 'function');
    // Anything else goes to generate unchanged, which rejects it with the usual options error.
    const call = !wrappable
      ? this.generate(options)
      : this.generate({
          ...options,
          signal: o.signal ? anySignal([o.signal, stop.signal]) : stop.signal,
          onStep: (e: StepEvent) => {
            o.onStep?.(e);
            channel.push({ type: 'step', ...e });
          },
        });
    call.then(
      (result) => {
        channel.push({ type: 'result', result });
        channel.end();
      },
      (error: unknown) => channel.fail(error),
    );
    return channel;
  }

  /** Frees native memory. A running generation is cancelled (it rejects with OVIS_DISPOSED); later calls reject. */
  dispose(): Promise<void> {
    if (this.disposing) return this.disposing;
    this.isDisposed = true;
    this.running?.onDispose();
    this.disposing = this.parts.engine.dispose();
    return this.disposing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  private throwIfDisposed(): void {
    if (this.isDisposed) throw new OvisError('OVIS_DISPOSED', 'this OvisImage was disposed; load the model again to generate');
  }

  private enqueue(o: ResolvedGenerateOptions, seed: bigint | null): Promise<GenerateResult> {
    // A call aborted while it waits in the queue rejects at once and never runs; once running, the
    // engine is cancelled and the call rejects when it has stopped (see run).
    let started = false;
    let rejectEarly: ((e: unknown) => void) | undefined;
    const early = new Promise<never>((_, reject) => (rejectEarly = reject));
    const onAbort = (): void => {
      if (!started) rejectEarly?.(abortErrorFrom(o.signal));
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const turn = this.queue.run(async () => {
      started = true;
      if (o.signal?.aborted) throw abortErrorFrom(o.signal);
      this.throwIfDisposed();
      return this.run(o, seed);
    });
    return Promise.race([turn, early]).finally(() => o.signal?.removeEventListener('abort', onAbort));
  }

  private async run(o: ResolvedGenerateOptions, seed: bigint | null): Promise<GenerateResult> {
    const started = performance.now();
    const { engine, tokenizer } = this.parts;
    const cfg = o.guidanceScale > 1;
    const prompt = await tokenizer.encode(o.prompt);
    const negative = cfg ? await tokenizer.encode(o.negativePrompt) : undefined;
    const noiseShape = [1, LATENT_CHANNELS, o.height / 8, o.width / 8];
    // A copy: the caller may reuse its array while this call waits in the queue.
    const noise = o.noise ? o.noise.slice() : randn(noiseShape, seed!);
    const schedule = computeSchedule(o.steps, imageTokenCount(o.width, o.height), this.parts.scheduler);
    const request: NativeGenerateRequest = {
      ids: prompt.inputIds,
      mask: prompt.attentionMask,
      tokens: prompt.inputIds.length,
      dropPrefix: this.parts.dropPrefix,
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

    // Abort and dispose both go through the engine's cancel flag; the step callback re-raises it so a
    // cancel that raced the start of the native call still lands within one step.
    let stopReason: 'abort' | 'dispose' | 'callback' | undefined;
    let callbackError: unknown;
    const cancel = (reason: 'abort' | 'dispose' | 'callback'): void => {
      stopReason ??= reason;
      engine.cancel();
    };
    const onAbort = (): void => cancel('abort');
    o.signal?.addEventListener('abort', onAbort, { once: true });
    this.running = { onDispose: () => cancel('dispose') };
    try {
      const out = await engine.generate(request, (e) => {
        if (stopReason) {
          engine.cancel();
          return;
        }
        const event: StepEvent = { step: e.step, steps: e.steps, sigma: e.sigma, elapsedMs: performance.now() - started };
        if (e.latents) event.latents = e.latents;
        try {
          o.onStep?.(event);
        } catch (err) {
          // A throwing onStep stops the run; the call rejects with what it threw.
          callbackError = err;
          cancel('callback');
        }
      });
      if (stopReason) throw stopError(stopReason, o.signal, undefined, callbackError);
      const image = toRgb8(out.image.data, o.width, o.height);
      const { noise: _n, signal: _s, onStep: _o, ...used } = o;
      const result: GenerateResult = {
        image,
        seed,
        timings: { textMs: out.msText, denoiseMs: out.msDenoise, decodeMs: out.msDecode, totalMs: performance.now() - started },
        promptTruncated: prompt.truncated || (negative?.truncated ?? false),
        latents: out.latents.data,
        options: used,
        toPNG: () => encodePng(image, pngText(used, seed, this.parts.modelName)),
      };
      return result;
    } catch (e) {
      if (stopReason) throw stopError(stopReason, o.signal, e, callbackError);
      if (isAbortCode(e)) throw abortErrorFrom(o.signal, e);
      throw e;
    } finally {
      this.running = undefined;
      o.signal?.removeEventListener('abort', onAbort);
    }
  }
}

function pngText(o: Omit<ResolvedGenerateOptions, 'noise' | 'signal' | 'onStep'>, seed: bigint | null, model: string): Record<string, string> {
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

function isAbortCode(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === 'ABORT_ERR';
}

function stopError(reason: 'abort' | 'dispose' | 'callback', signal: AbortSignal | undefined, cause: unknown, callbackError: unknown): unknown {
  if (reason === 'callback') return callbackError;
  if (reason === 'abort') return abortErrorFrom(signal, cause);
  return new OvisError('OVIS_DISPOSED', 'the model was disposed during this generation', { cause });
}

function abortErrorFrom(signal: AbortSignal | undefined, cause?: unknown): AbortError {
  const reason: unknown = signal?.reason;
  if (reason instanceof AbortError) return reason;
  return new AbortError('The generation was aborted', { cause: cause ?? reason });
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortErrorFrom(signal);
}

/** AbortSignal.any for Node 20.0–20.2. */
function anySignal(signals: AbortSignal[]): AbortSignal {
  const any = (AbortSignal as { any?: (s: AbortSignal[]) => AbortSignal }).any;
  if (any) return any(signals);
  const c = new AbortController();
  for (const s of signals) {
    if (s.aborted) {
      c.abort(s.reason);
      break;
    }
    s.addEventListener('abort', () => c.abort(s.reason), { once: true });
  }
  return c.signal;
}
