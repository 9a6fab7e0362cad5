/**
 * Typings of the native addon (cpp/addon). Loaded by lib/native/binding.ts; users never see it directly.
 * Every async method runs on the engine's own worker thread, one call at a time, in call order.
 * Rejections are Errors with a `code`: one of the native codes of lib/error-codes.ts (a test checks
 * the C++ sources against that list).
 */
export interface NativeTensor {
  data: Float32Array;
  shape: number[];
}

export type OffloadMode = 'none' | 'text-encoder' | 'layers' | 'auto';

export interface NativeEngineOptions {
  /** 'cpu' | 'cuda' | 'cuda:N' */
  device: string;
  /** CPU threads; 0 = all cores. */
  threads: number;
  /** CUDA only: f32 activations and GEMMs instead of bf16. */
  fp32: boolean;
  /**
   * CPU only: bf16 products (f32 accumulation) in the linear layers and attention where the CPU has AVX512-BF16 (else
   * f32, see cpuFeatures). Absent: false, the CPU computes in f32.
   */
  cpuBf16?: boolean;
  /**
   * Keep the text encoder's weights on the device between generations. false frees them (and returns
   * the memory to the driver) after the prompts are encoded, re-uploading them on the next encode.
   * Left out: kept on the CPU, freed on CUDA.
   */
  keepTextEncoder?: boolean;
  /**
   * 'none' | 'text-encoder' | 'layers' | 'auto': what stays off the device. 'layers' keeps the MMDiT's
   * blocks on the host and streams them ahead of use; 'auto' chooses from free device memory. Absent:
   * keepTextEncoder alone decides.
   */
  offload?: OffloadMode;
}

export interface NativeStepEvent {
  step: number;
  steps: number;
  sigma: number;
  /** Packed latents [B, L, 64], only when `reportLatents` was set. */
  latents?: Float32Array;
  /**
   * Only on preview steps: [B, 3, h, w] in [-1, 1] like `image`; 'latent' previews are 1/8 of the
   * image's size, 'vae' previews full size.
   */
  preview?: NativeTensor;
}

export interface NativeGenerateRequest {
  ids: Int32Array;
  mask: Int32Array;
  negIds?: Int32Array;
  negMask?: Int32Array;
  /** Token count T of each prompt (ids.length === T). */
  tokens: number;
  dropPrefix: number;
  /** Initial noise [B, C, H/8, W/8]: B images denoised as one batch. */
  noise: Float32Array;
  noiseShape: number[];
  sigmas: Float32Array;
  guidance: number;
  reportLatents: boolean;
  /** Image-to-image: the start image [1, 3, H, W] in [0, 1] (H, W = 8 × the noise's), with `strength` in (0, 1]. */
  initImage?: Float32Array;
  strength?: number;
  /** Previews on the step events: 'latent' (latent → RGB projection) or 'vae' (x̂0 decoded); default 'none'. */
  preview?: 'none' | 'latent' | 'vae';
  /** Previews on steps where step % previewEvery === 0 (default 1). */
  previewEvery?: number;
  /** Images per MMDiT call (0 or left out: chosen from an activation estimate). */
  maxBatch?: number;
  /** VAE tiling of the decode and the image-to-image encode; absent = auto. */
  vaeTiling?: NativeVaeTiling;
}

/** mode 'fixed' uses tile (px) and overlap; 'auto' tiles only when the whole image would not fit free memory. */
export interface NativeVaeTiling {
  mode: 'off' | 'auto' | 'fixed';
  tile: number;
  overlap: number;
}

export interface NativeGenerateResult {
  /** [B, 3, H, W] in [-1, 1]. */
  image: NativeTensor;
  latents: NativeTensor;
  promptEmbeds: NativeTensor;
  negativeEmbeds?: NativeTensor;
  msText: number;
  msDenoise: number;
  msDecode: number;
}

export interface NativeEngine {
  /** Maps the plan's files and uploads weights. Must resolve before any other call. Calling it again replaces the model. */
  load(planText: string): Promise<void>;
  /** e.g. 'cpu' or 'cuda:0'; '' until load() has resolved. */
  readonly backendName: string;
  encodeText(ids: Int32Array, mask: Int32Array, shape: number[]): Promise<NativeTensor>;
  ditForward(
    x: NativeTensor,
    ctx: NativeTensor,
    t: NativeTensor,
    imgIds: NativeTensor,
    txtIds: NativeTensor,
  ): Promise<NativeTensor>;
  vaeDecode(z: NativeTensor, tiling?: NativeVaeTiling): Promise<NativeTensor>;
  vaeEncode(image: NativeTensor, tiling?: NativeVaeTiling): Promise<{ mean: NativeTensor; logvar: NativeTensor }>;
  /**
   * onStep is called on the JS thread after every denoising step (events are queued, never waited
   * for). If it throws, the call is cancelled and rejects with what was thrown.
   */
  generate(request: NativeGenerateRequest, onStep?: (e: NativeStepEvent) => void): Promise<NativeGenerateResult>;
  /**
   * Sets the cancel flag: the running call (if any) rejects with ABORT_ERR at its next check. With no
   * call running, it applies to the next queued call when it starts; a no-op when nothing is queued.
   */
  cancel(): void;
  /** Cancels running work, waits for the worker, frees native memory. Later calls reject with OVIS_DISPOSED. */
  dispose(): Promise<void>;
  readonly disposed: boolean;
}

export interface NativeBinding {
  Engine: new (options: NativeEngineOptions) => NativeEngine;
  /** Which backends this binary was built with, e.g. ['cpu'] or ['cpu', 'cuda']. */
  backends(): string[];
  /** CUDA devices visible (0 without CUDA). */
  cudaDeviceCount(): number;
  /**
   * The CPU code paths this process may use (OVIS_CPU_ISA=avx2|portable caps them); avx512bf16 is what
   * precision 'bf16' needs on the CPU. Absent from addons built before it existed.
   */
  cpuFeatures?(): { avx2: boolean; avx512: boolean; avx512bf16: boolean };
  /**
   * The driver's CUDA version, the GPUs and the archs compiled in (cuda/cuda_info.h); undefined in a
   * CPU-only build, absent from addons built before it existed.
   */
  cudaInfo?():
    | {
        driverVersion: number;
        runtimeVersion: number;
        archs: string;
        error: string;
        devices: { name: string; major: number; minor: number; totalMemory: number }[];
      }
    | undefined;
  version: string;
}
