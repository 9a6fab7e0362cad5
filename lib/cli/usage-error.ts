/**
 * Usage errors: a flag's value, a combination of flags or an output name the CLI refuses. They exit with
 * code 2 (other failures exit 1) and name the flag as the user typed it.
 */
import { OvisError } from '../errors.js';

export class UsageError extends OvisError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('OVIS_INVALID_OPTIONS', message, options);
    this.name = 'UsageError';
  }
}

/** A flag value as the user typed it: bare when it reads unambiguously (NaN, -Infinity, abc), else quoted. */
export function typedValue(value: string): string {
  return /^[\w.:+-]+$/.test(value) ? value : JSON.stringify(value);
}

/** "--steps must be an integer in [1, 1000] (got 0)". */
export function flagError(flag: string, rule: string, typed: string | undefined, cause?: unknown): UsageError {
  const got = typed === undefined ? '' : ` (got ${typedValue(typed)})`;
  return new UsageError(`${flag} ${rule}${got}`, cause === undefined ? undefined : { cause });
}
