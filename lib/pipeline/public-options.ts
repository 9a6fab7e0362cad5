/**
 * The options of OvisImage.load and generate as users see them, documented field by field. Written
 * out rather than inferred from the zod schemas (options.ts) so the published typings need neither zod
 * nor @types/node; options.ts checks at compile time that both name the same fields.
 */
import type { DownloadProgress } from '../hub/progress.js';
import type { Device } from '../native/engine-limits.js';
import type { RgbImage } from './png.js';

export type { Device } from '../native/engine-limits.js';
export type { DownloadProgress } from '../hub/progress.js';

/**
 * The part of an `AbortSignal` this package uses. Node's and the DOM's `AbortSignal` both fit; pass a
 * real one (`AbortSignal.timeout(ms)`, `new AbortController().signal`): anything else is refused.
 */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** One progress report of OvisImage.load. */
export interface LoadProgress {
  /**
   * What is happening: 'download' (fetching a Hub model into the HF cache; `download` has the byte counts),
   * 'resolve' (reading configs and headers), 'tokenizer', 'backend' (the addon and device chosen, and why),
   * 'weights' (native load), 'ready'.
   */
  phase: 'download' | 'resolve' | 'tokenizer' | 'backend' | 'weights' | 'ready';
  /** One line for people. */
  message: string;
  /** Only in 'download' events: bytes and files done so far over the whole download. */
  download?: DownloadProgress;
}

/** Options of OvisImage.load. */
export interface LoadOptions {
  /** Where to run: 'cpu', 'cuda' (GPU 0), 'cuda:N', or 'auto' (default: CUDA when its addon loads and sees a GPU, else CPU). */
  device?: Device;
  /** CPU threads, an integer in [0, 1024]; 0 (default) = all cores. A count above the cores is capped at the core count. */
  threads?: number;
  /**
   * Activations and GEMMs: 'bf16' or 'fp32'. The default depends on the device: 'bf16' on CUDA, 'fp32' on
   * the CPU (its results match the reference in f32). 'bf16' on the CPU runs the linear layers and attention
   * with bf16 products and f32 accumulation where the CPU has AVX512-BF16 (faster, within about 1e-2 of f32); on
   * other CPUs it computes in f32 and says so in the 'backend' load progress (the CLI's --verbose).
   */
  precision?: 'bf16' | 'fp32';
  /**
   * Keep the text encoder's weights on the device between generations. Default: kept on the CPU; freed
   * on CUDA while denoising (about 3.4 GB), and uploaded again for the next prompt.
   */
  keepTextEncoder?: boolean;
  /**
   * The MMDiT's Linear weights: 'bf16' (default) keeps them as stored (a GGUF file's blocks included);
   * the others quantize a float checkpoint's weights while loading, per row, round to nearest.
   */
  weights?: 'bf16' | 'q8_0' | 'q6_k' | 'q5_k' | 'q4_k' | 'q4_0';
  /** The same for the text encoder's Linear weights (default 'bf16': as stored). */
  textEncoderWeights?: 'bf16' | 'q8_0' | 'q6_k' | 'q5_k' | 'q4_k' | 'q4_0';
  /**
   * What stays off the device (instead of keepTextEncoder): 'none' (everything resident), 'text-encoder'
   * (= keepTextEncoder: false), 'layers' (also the MMDiT's blocks: kept on the host, pinned, and streamed to
   * the device one or two blocks ahead of use; meant for CUDA) or 'auto' (chosen from the device's free
   * memory). Default: unset, keepTextEncoder decides.
   */
  offload?: 'none' | 'text-encoder' | 'layers' | 'auto';
  /** Called with each loading phase, and with byte counts while downloading from the Hub. */
  onProgress?: (progress: LoadProgress) => void;
  /**
   * Cancels the load (download included): the call rejects with AbortError, whose `cause` is the signal's
   * reason, and nothing stays loaded.
   */
  signal?: AbortSignalLike;
}

/** One denoising step done, as passed to `onStep` and yielded by `stream()`. */
export interface StepEvent {
  /** 1-based: the number of denoising steps done. */
  step: number;
  /** The number of steps of this generation. */
  steps: number;
  /** The sigma the step started from. */
  sigma: number;
  /** Milliseconds since the generation started (text encoding included). */
  elapsedMs: number;
  /** Packed latents [count, L, 64] after this step; only with `reportLatents`. */
  latents?: Float32Array;
  /** With `preview`, on every `previewEvery`-th step: the image forming (the first one of a batch). */
  preview?: RgbImage;
  /** With `preview` and `count`: one preview per image. */
  previews?: RgbImage[];
}

/** Options of OvisImage#generate and #stream. */
export interface GenerateOptions {
  /** What to draw; at most 10,000 characters (the model reads its first 284 tokens: see `promptTruncated`). */
  prompt: string;
  /** What to steer away from (classifier-free guidance); default ''. Same length limit as `prompt`. */
  negativePrompt?: string;
  /** Image width in pixels: a multiple of 16 in [16, 4096]; default 1024. */
  width?: number;
  /** Image height in pixels: a multiple of 16 in [16, 4096]; default 1024. */
  height?: number;
  /** Denoising steps, an integer in [1, 1000]; default 50. */
  steps?: number;
  /** Classifier-free guidance scale in [0, 100]; default 5. At 1 or below guidance is off (one pass per step). */
  guidanceScale?: number;
  /**
   * Seed of the starting noise, an integer (number or bigint) in [0, 2^64 - 1]; random when left out.
   * Cannot be combined with `noise`.
   */
  seed?: number | bigint;
  /**
   * The starting noise itself, layout [1, 16, height/8, width/8], instead of drawing it from a seed. It is
   * copied when generate() is called. `result.seed` is then null.
   */
  noise?: Float32Array;
  /** Cancels the generation: the call rejects with AbortError (`cause`: the signal's reason) and the model stays usable. */
  signal?: AbortSignalLike;
  /** Called after every denoising step. If it throws, the generation stops and rejects with what it threw. */
  onStep?: (event: StepEvent) => void;
  /** Put the packed latents into every StepEvent (debugging, previews); default false. */
  reportLatents?: boolean;
  /**
   * Image-to-image: the start image, RGB8 `{ width, height, data }` or the bytes of a PNG or JPEG file.
   * Without `width`/`height` the output takes its size rounded down to multiples of 16; another size is
   * reached with a Lanczos-3 resize.
   */
  image?: RgbImage | Uint8Array;
  /** Image-to-image: in (0, 1], default 0.6; the schedule is entered at int(steps − steps·strength). */
  strength?: number;
  /** Previews on step events: false (default), 'latent' (1/8 size, nearly free) or 'vae' (x̂0 decoded, full size). */
  preview?: false | 'latent' | 'vae';
  /** Previews on steps where step % previewEvery === 0; default 1. */
  previewEvery?: number;
  /** Images of one call, in [1, 64] (seeds seed … seed + count − 1), denoised as one batch; generate then resolves to an array. */
  count?: number;
  /**
   * VAE decode (and image-to-image's encode) in tiles, as diffusers' `tiled_decode` / `_tiled_encode`: `false`
   * (never), 'auto' (default: only when the whole-image decode would not fit the backend's free memory) or
   * `{ tile, overlap }` (tile in pixels, a multiple of 8; overlap in [0, 1), default 0.25; tile × (1 − overlap)
   * must be a multiple of 8).
   */
  vaeTiling?: false | 'auto' | { tile: number; overlap?: number };
}
