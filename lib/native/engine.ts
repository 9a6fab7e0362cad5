/**
 * NativeModelEngine: a typed, promise-based handle on one native engine (cpp/addon), with an
 * AbortSignal per call. This is the package's one queue (OvisImage queues nothing itself).
 *
 * Calls run one at a time in call order. The queue is kept here rather than in the addon so that an
 * abort only ever cancels its own call: a call aborted while queued is dropped without running, and
 * only the call that is running natively is cancelled through the engine's cancel flag. A signal that
 * fires at any time before a call settles makes it reject with AbortError (cause: the signal's reason).
 */
import type {
  NativeBinding,
  NativeEngine,
  NativeGenerateRequest,
  NativeGenerateResult,
  NativeStepEvent,
  NativeTensor,
  NativeVaeTiling,
  OffloadMode,
} from '../../types/native.js';
import { isNativeCode } from '../error-codes.js';
import { AbortError, OvisError } from '../errors.js';
import { loadBinding, loadCudaBinding } from './binding.js';

export interface NativeModelEngineOptions {
  /** 'cpu' (default), 'cuda' or 'cuda:N' (engine-limits.ts; the addon refuses anything else). */
  device?: string;
  /** CPU threads; 0 (default) = all cores (lib/native/engine-limits.ts has the limits). */
  threads?: number;
  /**
   * Activations and GEMMs: 'bf16' or 'fp32'; absent = the device's default (CUDA 'bf16', CPU 'fp32').
   * 'bf16' on the CPU: bf16 products in the linear layers and attention where the CPU has AVX512-BF16, else f32.
   */
  precision?: 'bf16' | 'fp32';
  /**
   * Keep the text encoder's weights on the device between generations. false frees them after the
   * prompts are encoded (re-uploaded on the next encode). Default: kept on the CPU, freed on CUDA.
   */
  keepTextEncoder?: boolean;
  offload?: OffloadMode;
  /** The addon to use; by default the CUDA build for CUDA devices, else the CPU build. */
  binding?: NativeBinding;
  /** Aborts loading the weights (before it starts, or drops the engine once loaded). */
  signal?: AbortSignal;
}

export interface NativeCallOptions {
  signal?: AbortSignal | undefined;
  /** Called when the call leaves the queue and starts running. */
  onStart?: () => void;
}

/**
 * Maps an addon error to an OvisError with the same code (ABORT_ERR -> AbortError). Anything else
 * (for example what an onStep callback threw) is returned unchanged.
 */
export function fromNativeError(err: unknown): unknown {
  if (err instanceof OvisError) return err;
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (!isNativeCode(code)) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'ABORT_ERR') return new AbortError(message, { cause: err });
  return new OvisError(code, message, { cause: err });
}

function abortErrorOf(signal: AbortSignal): AbortError {
  return new AbortError('The operation was aborted', { cause: signal.reason });
}

const disposedError = (): OvisError => new OvisError('OVIS_DISPOSED', 'the engine was disposed');

/**
 * A copy of the typed arrays inside a call's arguments, taken when the call has to wait in the queue:
 * the addon copies its inputs when the call reaches it, and the caller may change its arrays meanwhile.
 * Values that are not what the addon expects are passed through for it to reject.
 */
function snapshot<T>(value: T): T {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    try {
      return (value as unknown as Float32Array).slice() as unknown as T;
    } catch {
      return value; // e.g. a detached buffer: the addon reports it
    }
  }
  if (Array.isArray(value)) return value.map(snapshot) as unknown as T;
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = snapshot(v);
    return out as T;
  }
  return value;
}

interface Task {
  run: () => Promise<unknown>;
  signal: AbortSignal | undefined;
  onStart: (() => void) | undefined;
  onAbort: (() => void) | undefined;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export class NativeModelEngine implements AsyncDisposable {
  readonly #native: NativeEngine;
  readonly #queue: Task[] = [];
  #running: Task | undefined;
  #disposing: Promise<void> | undefined;

  private constructor(native: NativeEngine) {
    this.#native = native;
  }

  /** Wraps an engine object that is already loaded (tests: a fake addon engine). */
  static wrap(native: NativeEngine): NativeModelEngine {
    return new NativeModelEngine(native);
  }

  /** Creates an engine on `options.device` and loads the weights of a plan (lib/model formatPlanText). */
  static async create(planText: string, options: NativeModelEngineOptions = {}): Promise<NativeModelEngine> {
    const device = options.device ?? 'cpu';
    const binding = options.binding ?? (device.startsWith('cuda') ? (await loadCudaBinding()).binding : loadBinding('cpu'));
    let native: NativeEngine;
    try {
      native = new binding.Engine({
        device,
        threads: options.threads ?? 0,
        fp32: options.precision === 'fp32',
        cpuBf16: options.precision === 'bf16',
        ...(options.keepTextEncoder !== undefined ? { keepTextEncoder: options.keepTextEncoder } : {}),
        ...(options.offload !== undefined ? { offload: options.offload } : {}),
      });
    } catch (err) {
      throw fromNativeError(err);
    }
    const engine = new NativeModelEngine(native);
    try {
      await engine.#call(() => () => native.load(planText), { signal: options.signal });
    } catch (err) {
      await engine.dispose();
      throw err;
    }
    return engine;
  }

  /** The backend that runs the model, e.g. 'cpu' or 'cuda:0'. */
  get backendName(): string {
    return this.#native.backendName;
  }

  get disposed(): boolean {
    return this.#disposing !== undefined;
  }

  /** ids, mask: [B, T] -> last hidden state [B, T, H]. */
  encodeText(ids: Int32Array, mask: Int32Array, shape: number[], options?: NativeCallOptions): Promise<NativeTensor> {
    return this.#call((waits) => {
      const a = waits ? snapshot({ ids, mask, shape }) : { ids, mask, shape };
      return () => this.#native.encodeText(a.ids, a.mask, a.shape);
    }, options);
  }

  /** One MMDiT forward: the velocity [B, L, Cout]. */
  ditForward(
    x: NativeTensor,
    ctx: NativeTensor,
    t: NativeTensor,
    imgIds: NativeTensor,
    txtIds: NativeTensor,
    options?: NativeCallOptions,
  ): Promise<NativeTensor> {
    return this.#call((waits) => {
      const a = waits ? snapshot({ x, ctx, t, imgIds, txtIds }) : { x, ctx, t, imgIds, txtIds };
      return () => this.#native.ditForward(a.x, a.ctx, a.t, a.imgIds, a.txtIds);
    }, options);
  }

  /** Raw latent [B, 16, h, w] -> image [B, 3, 8h, 8w] in about [-1, 1]; tiled as `tiling` says (default auto). */
  vaeDecode(z: NativeTensor, options?: NativeCallOptions, tiling?: NativeVaeTiling): Promise<NativeTensor> {
    return this.#call((waits) => {
      const a = waits ? snapshot(z) : z;
      return () => this.#native.vaeDecode(a, tiling);
    }, options);
  }

  /** Image [B, 3, H, W] in [-1, 1] -> raw posterior mean and logvar; tiled as `tiling` says (default auto). */
  vaeEncode(image: NativeTensor, options?: NativeCallOptions, tiling?: NativeVaeTiling): Promise<{ mean: NativeTensor; logvar: NativeTensor }> {
    return this.#call((waits) => {
      const a = waits ? snapshot(image) : image;
      return () => this.#native.vaeEncode(a, tiling);
    }, options);
  }

  /** A whole text-to-image run; onStep is called on this thread after every denoising step. */
  generate(
    request: NativeGenerateRequest,
    onStep?: (e: NativeStepEvent) => void,
    options?: NativeCallOptions,
  ): Promise<NativeGenerateResult> {
    return this.#call((waits) => {
      const r = waits ? snapshot(request) : request;
      return () => this.#native.generate(r, onStep);
    }, options);
  }

  /** Cancels the running call (it rejects with AbortError); queued calls still run. */
  cancel(): void {
    if (this.#running && !this.disposed) this.#native.cancel();
  }

  /**
   * Rejects queued calls with OVIS_DISPOSED, cancels the running one (it rejects with OVIS_DISPOSED),
   * then frees the native engine. Idempotent; later calls reject with OVIS_DISPOSED.
   */
  dispose(): Promise<void> {
    if (!this.#disposing) {
      for (const task of this.#queue.splice(0)) this.#settle(task, false, disposedError());
      this.#disposing = this.#native.dispose().catch((err: unknown) => {
        throw fromNativeError(err);
      });
    }
    return this.#disposing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  /**
   * Queues a call. prepare(waits) returns the function that calls the addon; `waits` says whether the
   * call has to wait behind others (then it should copy its inputs now).
   */
  #call<T>(prepare: (waits: boolean) => () => Promise<T>, options: NativeCallOptions = {}): Promise<T> {
    const { signal, onStart } = options;
    if (this.disposed) return Promise.reject(disposedError());
    if (signal?.aborted) return Promise.reject(abortErrorOf(signal));
    const waits = this.#running !== undefined || this.#queue.length > 0;
    let run: () => Promise<unknown>;
    try {
      run = prepare(waits);
    } catch (err) {
      return Promise.reject(fromNativeError(err));
    }
    return new Promise<T>((resolve, reject) => {
      const task: Task = { run, signal, onStart, onAbort: undefined, resolve: resolve as (v: unknown) => void, reject };
      if (signal) {
        task.onAbort = () => this.#abort(task);
        signal.addEventListener('abort', task.onAbort, { once: true });
      }
      this.#queue.push(task);
      this.#pump();
    });
  }

  #pump(): void {
    if (this.#running || this.disposed) return;
    const task = this.#queue.shift();
    if (!task) return;
    this.#running = task;
    let pending: Promise<unknown>;
    try {
      task.onStart?.();
      pending = task.run();
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(
      (value) => this.#finish(task, true, value),
      (err: unknown) => this.#finish(task, false, err),
    );
  }

  #finish(task: Task, ok: boolean, result: unknown): void {
    this.#running = undefined;
    if (task.signal?.aborted && !this.disposed) {
      // Aborted while running: report the abort even if the work finished before its next check.
      this.#settle(task, false, abortErrorOf(task.signal));
    } else {
      this.#settle(task, ok, ok ? result : fromNativeError(result));
    }
    this.#pump();
  }

  #abort(task: Task): void {
    if (task === this.#running) {
      this.#native.cancel();
      return;
    }
    const index = this.#queue.indexOf(task);
    if (index >= 0) {
      this.#queue.splice(index, 1);
      this.#settle(task, false, abortErrorOf(task.signal!));
    }
  }

  #settle(task: Task, ok: boolean, result: unknown): void {
    if (task.signal && task.onAbort) task.signal.removeEventListener('abort', task.onAbort);
    if (ok) task.resolve(result);
    else task.reject(result);
  }
}
