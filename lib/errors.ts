/**
 * Errors users can act on. Every error this package throws on purpose is an `OvisError` with a
 * stable `code` from lib/error-codes.ts; native engine failures arrive with the code the C++ side
 * chose (cpp/engine/core/error.h), which is one of the same list.
 */
import type { ErrorCode, ModelLoadErrorCode } from './error-codes.js';

export type { HubErrorCode, ModelLoadErrorCode } from './error-codes.js';
/** Every code an `OvisError` may carry (the README's error table lists them with their meaning). */
export type OvisErrorCode = ErrorCode;

export class OvisError extends Error {
  readonly code: OvisErrorCode;
  constructor(code: OvisErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OvisError';
    this.code = code;
  }
}

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
