/**
 * The public text-to-image API: OvisImage.load(model) → generate / stream → dispose.
 * The native engine runs the whole loop (text encoding, Euler + CFG, VAE decode); this class checks
 * options, tokenizes, makes the noise and the schedule, and turns the output into an image. Queueing
 * and cancelling belong to the engine (lib/native/engine.ts): one queue, one abort path.
 */
/// <reference lib="esnext.disposable" preserve="true" />
import { OvisError } from './errors.js';
import { abortErrorOf, anySignal, throwIfAborted } from './pipeline/abort.js';
import { EventChannel } from './pipeline/event-channel.js';
import { loadPipelineParts } from './pipeline/load-parts.js';
import { checkModelSource, type ModelSource } from './pipeline/model-source.js';
import { parseLoadOptions, type ResolvedGenerateOptions } from './pipeline/options.js';
import { parseGenerateInput } from './pipeline/generate-input.js';
import { previewImages } from './pipeline/preview.js';
import type { PipelineParts } from './pipeline/parts.js';
import type { GenerateOptions, LoadOptions, StepEvent } from './pipeline/public-options.js';
import { buildRequest } from './pipeline/request.js';
import type { GenerateResult } from './pipeline/public-result.js';
import { buildResults } from './pipeline/result.js';
import { randomSeed } from './pipeline/rng.js';
import type { NativeGenerateRequest, NativeStepEvent } from '../types/native.js';
import type { BackendInfo } from './native/backend-info.js';

export type { GenerateResult, GenerateTimings, UsedGenerateOptions } from './pipeline/public-result.js';

/** What stream() yields: one 'step' event per denoising step, then the 'result'. */
export type GenerateEvent = ({ type: 'step' } & StepEvent) | { type: 'result'; result: GenerateResult };

/** A generation checked and ready to queue: everything the caller owns is already copied. */
interface Job {
  options: ResolvedGenerateOptions;
  seed: bigint | null;
  request: NativeGenerateRequest;
  promptTruncated: boolean;
}

/** How a run reports: the signal that cancels it and who hears about each step. */
interface RunHooks {
  signal: AbortSignal | undefined;
  onStep: ((e: StepEvent) => void) | undefined;
}

export class OvisImage implements AsyncDisposable {
  private readonly parts: PipelineParts;
  private isDisposed = false;
  private disposing: Promise<void> | undefined;

  private constructor(parts: PipelineParts) {
    this.parts = parts;
  }

  /**
   * Loads a model: a diffusers folder, the official single files, each component's path
   * ({ transformer, textEncoder, vae, tokenizer, scheduler? }), or a Hugging Face model id
   * `owner/name[@revision]` (downloaded into the shared HF cache once; an existing local path of that
   * name wins). Rejects with OvisError('OVIS_INVALID_OPTIONS') for a bad argument or option, a
   * ModelLoadError for an unusable checkpoint, AbortError when `options.signal` fires.
   */
  static async load(model: ModelSource, options: LoadOptions = {}): Promise<OvisImage> {
    checkModelSource(model);
    const o = parseLoadOptions(options);
    return new OvisImage(await loadPipelineParts(model, o));
  }

  /**
   * Wraps already-built parts (custom engines, tests).
   * @internal
   */
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

  /** True once dispose() was called. */
  get disposed(): boolean {
    return this.isDisposed;
  }

  /**
   * Generates one image. Calls on one model run one after another, in call order; the options (and the
   * `noise` array) are read and copied when generate() is called. Rejects with
   * OvisError('OVIS_INVALID_OPTIONS') on bad options, AbortError when `signal` fires at any time before
   * the result (the model stays usable), OvisError('OVIS_DISPOSED') after dispose().
   */
  generate(options: GenerateOptions & { count: number }): Promise<GenerateResult[]>;
  generate(options: GenerateOptions): Promise<GenerateResult>;
  /** With `count` (even 1) it resolves to an array of results, image i from seed + i. */
  generate(options: GenerateOptions): Promise<GenerateResult | GenerateResult[]> {
    let job: Job;
    try {
      job = this.prepare(options);
    } catch (e) {
      return Promise.reject(e);
    }
    const results = this.execute(job, { signal: job.options.signal, onStep: job.options.onStep });
    return job.options.count === undefined ? results.then((r) => r[0]!) : results;
  }

  /**
   * Like generate, as events: one { type: 'step' } per denoising step, then { type: 'result' }.
   * Lazy: the options are checked and copied now, but the generation is queued when the loop first asks
   * for an event. Leaving the loop early cancels it. Failures (bad options included) are thrown by the loop.
   */
  stream(options: GenerateOptions): AsyncIterableIterator<GenerateEvent> {
    let job: Job | undefined;
    let failure: unknown;
    try {
      job = this.prepare(options);
    } catch (e) {
      failure = e;
    }
    const stop = new AbortController();
    const channel: EventChannel<GenerateEvent> = new EventChannel<GenerateEvent>({
      onReturn: () => stop.abort(),
      onFirstNext: () => {
        if (!job) return channel.fail(failure);
        const { signal, onStep } = job.options;
        const hooks: RunHooks = {
          signal: signal ? anySignal([signal, stop.signal]) : stop.signal,
          onStep: (e) => {
            onStep?.(e);
            channel.push({ type: 'step', ...e });
          },
        };
        this.execute(job, hooks).then(
          (results) => {
            for (const result of results) channel.push({ type: 'result', result });
            channel.end();
          },
          (error: unknown) => channel.fail(error),
        );
      },
    });
    return channel;
  }

  /** Frees native memory. A running or queued generation rejects with OVIS_DISPOSED; so do later calls. Idempotent. */
  dispose(): Promise<void> {
    if (this.disposing) return this.disposing;
    this.isDisposed = true;
    this.disposing = this.parts.engine.dispose();
    return this.disposing;
  }

  /** `await using model = await OvisImage.load(...)` disposes the model at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  private throwIfDisposed(): void {
    if (this.isDisposed) throw new OvisError('OVIS_DISPOSED', 'this OvisImage was disposed; load the model again to generate');
  }

  /** Synchronous: checks the options and copies every input, so later changes by the caller do nothing. */
  private prepare(options: GenerateOptions): Job {
    this.throwIfDisposed();
    const { options: o, initImage } = parseGenerateInput(options);
    throwIfAborted(o.signal);
    const seed = o.noise ? null : BigInt(o.seed ?? randomSeed());
    const { request, promptTruncated } = buildRequest(o, seed, this.parts, initImage);
    return { options: o, seed, request, promptTruncated };
  }

  /**
   * Queues the job on the engine, synchronously: its place in the queue and its abort listener exist
   * when generate() returns, so an abort at any later moment reaches it.
   */
  private async execute(job: Job, hooks: RunHooks): Promise<GenerateResult[]> {
    let started = performance.now();
    const onStep = (e: NativeStepEvent): void => {
      if (hooks.signal?.aborted) return; // the run is being cancelled: no more progress
      const event: StepEvent = { step: e.step, steps: e.steps, sigma: e.sigma, elapsedMs: performance.now() - started };
      if (e.latents) event.latents = e.latents;
      if (e.preview) {
        const previews = previewImages(e.preview);
        event.preview = previews[0]!;
        if (job.options.count !== undefined) event.previews = previews;
      }
      hooks.onStep?.(event);
    };
    const out = await this.parts.engine.generate(job.request, onStep, {
      signal: hooks.signal,
      onStart: () => (started = performance.now()),
    });
    // The engine finished, but the signal fired before the caller got the result: it wins.
    if (hooks.signal?.aborted) throw abortErrorOf(hooks.signal);
    return buildResults({ options: job.options, seed: job.seed, promptTruncated: job.promptTruncated, modelName: this.parts.modelName, started }, out);
  }
}
