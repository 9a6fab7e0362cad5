/**
 * Errors users can act on. Every error this package throws on purpose is an `OvisError` with a
 * stable `code`; native engine failures arrive with the code the C++ side chose (see
 * cpp/engine/core/error.h).
 */
export type OvisErrorCode =
  | 'OVIS_BAD_ARGUMENT'
  | 'OVIS_BAD_WEIGHTS'
  | 'OVIS_OUT_OF_MEMORY'
  | 'OVIS_DISPOSED'
  | 'OVIS_BACKEND'
  | 'OVIS_UNAVAILABLE'
  | 'OVIS_INTERNAL'
  | 'OVIS_INVALID_OPTIONS'
  | 'ABORT_ERR'
  | ModelLoadErrorCode
  | HubErrorCode;

export class OvisError extends Error {
  readonly code: OvisErrorCode;
  constructor(code: OvisErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OvisError';
    this.code = code;
  }
}

/** Codes of problems met while fetching a model from the Hugging Face Hub (lib/hub). */
export type HubErrorCode =
  | 'HUB_BAD_REPO_ID' // not `owner/name[@revision]`
  | 'HUB_NOT_FOUND' // the repo (or a file in it) does not exist, or is private without a token
  | 'HUB_REVISION_NOT_FOUND' // branch, tag or commit not in the repo
  | 'HUB_GATED' // needs HF_TOKEN and the licence accepted on the model page
  | 'HUB_OFFLINE_MISSING' // HF_HUB_OFFLINE=1 and the cache lacks files
  | 'HUB_NETWORK' // the Hub could not be reached or the connection broke
  | 'HUB_DISK_FULL' // ENOSPC / EDQUOT while writing the cache
  | 'HUB_CACHE_ACCESS' // the cache folder cannot be written (permissions)
  | 'HUB_CORRUPT' // a downloaded file does not match its size or sha256
  | 'HUB_BAD_RESPONSE'; // the server answered something that is not the Hub protocol

/** Codes of problems found while resolving and validating a checkpoint. */
export type ModelLoadErrorCode =
  | 'MODEL_NOT_FOUND' // the path does not exist
  | 'MODEL_UNKNOWN_LAYOUT' // a folder that is no known checkpoint layout
  | 'MODEL_MISSING_COMPONENT' // a component (transformer, vae, ...) or shard is missing
  | 'MODEL_BAD_CONFIG' // a config file is unreadable or has nonsense values
  | 'SAFETENSORS_TRUNCATED'
  | 'SAFETENSORS_BAD_HEADER' // absurd length or invalid JSON
  | 'SAFETENSORS_BAD_DTYPE'
  | 'SAFETENSORS_BAD_OFFSETS' // outside the file or overlapping
  | 'TENSOR_MISSING'
  | 'TENSOR_BAD_SHAPE'
  | 'TENSOR_UNEXPECTED';

/** A checkpoint could not be used; `file` and `tensor` name where, the message says what was expected. */
export class ModelLoadError extends OvisError {
  readonly file: string | undefined;
  readonly tensor: string | undefined;
  constructor(code: ModelLoadErrorCode, message: string, where: { file?: string; tensor?: string } = {}) {
    super(code, message);
    this.name = 'ModelLoadError';
    this.file = where.file;
    this.tensor = where.tensor;
  }
}

/** Thrown when an AbortSignal stops work; the model stays usable. */
export class AbortError extends OvisError {
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super('ABORT_ERR', message, options);
    this.name = 'AbortError';
  }
}
