import { CommanderError } from 'commander';
import { OvisError } from '../errors.js';
import { INTERRUPTED_EXIT_CODE, wasInterrupted } from './interrupt.js';

/** A failure already explained to the user: exit 1 with this one line. */
export class CliFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliFailure';
  }
}

export const PROGRAM_NAME = 'ovis-image';

/** Exit codes: 0 done, 1 failed, 2 usage error (bad flag, value or output name), 130 interrupted (Ctrl-C). */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export function printError(message: string): void {
  process.stderr.write(`${PROGRAM_NAME}: error: ${message}\n`);
}

export function printWarning(message: string): void {
  process.stderr.write(`${PROGRAM_NAME}: warning: ${message}\n`);
}

/** One clean line per error (stack traces only with OVIS_DEBUG=1); returns the exit code. */
export function reportError(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode; // commander already printed its message
  if (process.env['OVIS_DEBUG'] === '1' && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  if (wasInterrupted()) {
    printError('interrupted (Ctrl-C)');
    return INTERRUPTED_EXIT_CODE;
  }
  if (err instanceof OvisError && err.code === 'OVIS_INVALID_OPTIONS') {
    printError(err.message);
    return EXIT_USAGE;
  }
  if (err instanceof CliFailure || err instanceof OvisError) {
    printError(err.message);
    return EXIT_FAILURE;
  }
  printError(`internal error: ${err instanceof Error ? err.message : String(err)} (set OVIS_DEBUG=1 for details)`);
  return EXIT_FAILURE;
}
