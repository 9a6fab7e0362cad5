/**
 * The one list of error codes: the TypeScript error types, the native addon's codes (checked against
 * the C++ sources by test/native-error-codes.test.ts) and the README's table (checked by the same test)
 * all come from here.
 */

/** `native: true`: the C++ engine or the addon may reject with this code. */
export const ERROR_CODES = {
  OVIS_INVALID_OPTIONS: { native: false, meaning: 'an option or argument of the API is invalid; the message names the field and the allowed range' },
  OVIS_BAD_ARGUMENT: { native: true, meaning: 'the native engine was called with a wrong shape, type or value' },
  OVIS_BAD_WEIGHTS: { native: true, meaning: 'the weight plan or a weight file cannot be used by the engine' },
  OVIS_OUT_OF_MEMORY: { native: true, meaning: 'a host or device allocation failed' },
  OVIS_DISPOSED: { native: true, meaning: 'the model (engine) was disposed before or during the call' },
  OVIS_BACKEND: { native: true, meaning: 'a backend call (CUDA, cuBLAS) failed' },
  OVIS_UNAVAILABLE: { native: true, meaning: 'the requested device or addon is not available here; the message says why' },
  OVIS_NON_FINITE: { native: true, meaning: 'a stage produced NaN or Inf (text encoder, the MMDiT at a named step, VAE); `ovis-image info --check` scans the weights' },
  OVIS_WEIGHTS_CHANGED: { native: true, meaning: 'a weight file was truncated, rewritten or replaced after it was checked or loaded: load the model again' },
  OVIS_INTERNAL: { native: true, meaning: 'a bug: please report it with the message' },
  ABORT_ERR: { native: true, meaning: 'an AbortSignal stopped the work (AbortError; `cause` is the signal\'s reason)' },
  MODEL_NOT_FOUND: { native: false, meaning: 'the model path does not exist' },
  MODEL_UNKNOWN_LAYOUT: { native: false, meaning: 'a folder that is no known checkpoint layout' },
  MODEL_MISSING_COMPONENT: { native: false, meaning: 'a component (transformer, vae, ...) or shard is missing' },
  MODEL_BAD_CONFIG: { native: false, meaning: 'a config, tokenizer or chat template is unreadable or unusable, or a config value is out of range' },
  MODEL_BAD_FILE: { native: false, meaning: 'a FIFO, folder or device in place of a model file, or a file too large for what it should be' },
  MODEL_NON_FINITE: { native: false, meaning: 'a weight tensor holds NaN or Inf (found by `ovis-image info --check`)' },
  SAFETENSORS_TRUNCATED: { native: false, meaning: 'a safetensors file is shorter than its header says' },
  SAFETENSORS_BAD_HEADER: { native: false, meaning: 'a safetensors header has an absurd length or invalid JSON' },
  SAFETENSORS_BAD_DTYPE: { native: false, meaning: 'a tensor has a dtype the engine cannot read' },
  SAFETENSORS_BAD_OFFSETS: { native: false, meaning: 'tensor data lies outside the file, overlaps, or does not fill the data area exactly' },
  GGUF_BAD_HEADER: { native: false, meaning: 'not a GGUF file, or a GGUF header that cannot be read' },
  GGUF_TRUNCATED: { native: false, meaning: 'a GGUF header or tensor runs past the end of the file' },
  GGUF_BAD_TYPE: { native: false, meaning: 'a GGUF tensor has a type the engine cannot compute with' },
  TENSOR_MISSING: { native: false, meaning: 'a tensor the model needs is not in the checkpoint' },
  TENSOR_BAD_SHAPE: { native: false, meaning: 'a tensor has another shape than the config implies' },
  TENSOR_UNEXPECTED: { native: false, meaning: 'the checkpoint holds a tensor the model does not use' },
  HUB_BAD_REPO_ID: { native: false, meaning: 'not a model id of the form `owner/name[@revision]`' },
  HUB_NOT_FOUND: { native: false, meaning: 'the repo or a file in it does not exist (or is private without a token)' },
  HUB_REVISION_NOT_FOUND: { native: false, meaning: 'the branch, tag or commit is not in the repo' },
  HUB_GATED: { native: false, meaning: 'the repo needs HF_TOKEN and its licence accepted on the model page' },
  HUB_OFFLINE_MISSING: { native: false, meaning: 'HF_HUB_OFFLINE=1 and the cache lacks files' },
  HUB_NETWORK: { native: false, meaning: 'the Hub could not be reached or the connection broke' },
  HUB_DISK_FULL: { native: false, meaning: 'the disk filled up (ENOSPC / EDQUOT) while writing the cache' },
  HUB_CACHE_ACCESS: { native: false, meaning: 'the cache folder cannot be written (permissions)' },
  HUB_CORRUPT: { native: false, meaning: 'a downloaded file does not match its size or sha256' },
  HUB_BAD_RESPONSE: { native: false, meaning: 'the server answered something that is not the Hub protocol' },
  CUDA_SETUP_NETWORK: { native: false, meaning: '`setup cuda`: the package index or the wheel could not be reached, or the download broke off (it resumes)' },
  CUDA_SETUP_NOT_FOUND: { native: false, meaning: '`setup cuda`: the index has no nvidia-cublas 13 wheel for this machine' },
  CUDA_SETUP_BAD_RESPONSE: { native: false, meaning: '`setup cuda`: the index answered an error or a page it cannot read' },
  CUDA_SETUP_CORRUPT: { native: false, meaning: '`setup cuda`: the wheel does not match its sha256, or is no nvidia-cublas 13 wheel' },
  CUDA_SETUP_WRITE: { native: false, meaning: '`setup cuda`: the cache folder cannot be written (permissions, disk full)' },
} as const satisfies Record<string, { native: boolean; meaning: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

type CodeWithPrefix<P extends string> = Extract<ErrorCode, `${P}${string}`>;
/** Codes of problems met while fetching a model from the Hugging Face Hub (lib/hub). */
export type HubErrorCode = CodeWithPrefix<'HUB_'>;
/** Codes of problems found while resolving and validating a checkpoint. */
export type ModelLoadErrorCode = CodeWithPrefix<'MODEL_' | 'SAFETENSORS_' | 'GGUF_' | 'TENSOR_'>;

/** Whether the native addon may reject with `code`. */
export function isNativeCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code) && ERROR_CODES[code as ErrorCode].native;
}
