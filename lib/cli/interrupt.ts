/**
 * Ctrl-C: the first SIGINT cancels the running work through an AbortSignal (the command then exits 130,
 * the shell's code for "stopped by SIGINT"); a second one exits at once.
 */
import { AbortError } from '../errors.js';

export const INTERRUPTED_EXIT_CODE = 130;

let interrupted = false;

/** True once Ctrl-C was pressed during a command. */
export function wasInterrupted(): boolean {
  return interrupted;
}

/** Runs `work` with a signal that Ctrl-C aborts. */
export async function withInterrupt<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const abort = new AbortController();
  const onSigint = (): void => {
    if (interrupted) process.exit(INTERRUPTED_EXIT_CODE);
    interrupted = true;
    abort.abort(new AbortError('interrupted (Ctrl-C)'));
  };
  process.on('SIGINT', onSigint);
  try {
    return await work(abort.signal);
  } finally {
    process.off('SIGINT', onSigint);
  }
}
