/** Small AbortSignal helpers shared by load and generate. */
import { AbortError } from '../errors.js';

/** An AbortError whose cause is the signal's reason, so a timeout can be told from a user's abort. */
export function abortErrorOf(signal: AbortSignal | undefined, message = 'The generation was aborted'): AbortError {
  return new AbortError(message, { cause: signal?.reason });
}

export function throwIfAborted(signal: AbortSignal | undefined, message?: string): void {
  if (signal?.aborted) throw abortErrorOf(signal, message);
}

/** AbortSignal.any, with a fallback for Node 20.0–20.2. */
export function anySignal(signals: AbortSignal[]): AbortSignal {
  const any = (AbortSignal as { any?: (s: AbortSignal[]) => AbortSignal }).any;
  if (any) return any(signals);
  const c = new AbortController();
  for (const s of signals) {
    if (s.aborted) {
      c.abort(s.reason);
      break;
    }
    s.addEventListener('abort', () => c.abort(s.reason), { once: true });
  }
  return c.signal;
}
