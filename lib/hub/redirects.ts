import { OvisError } from '../errors.js';
import { hubHeaders } from './http.js';

/**
 * True when both URLs have the same scheme, host and port. huggingface_hub's HTTP clients (requests and
 * httpx) drop the Authorization header on any redirect that changes one of them; so do we.
 */
export function sameOrigin(a: string, b: string): boolean {
  return new URL(a).origin === new URL(b).origin;
}

export const MAX_REDIRECTS = 10;

/** The answer a redirect chain ended with, and the URL that gave it. */
export interface FollowedResponse {
  res: Response;
  url: string;
  /** Set when the chain stopped at a redirect to another origin (only with `follow: 'same-origin'`). */
  crossOriginTarget?: string;
}

export interface FollowOptions {
  method?: 'GET' | 'HEAD';
  token: string | undefined;
  headers?: Record<string, string>;
  signal?: AbortSignal | undefined;
  /** 'all': follow every redirect; 'same-origin': stop at one that leaves the origin (metadata requests). */
  follow: 'all' | 'same-origin';
}

function redirectTarget(res: Response, url: string): string | undefined {
  const location = res.headers.get('location');
  return res.status >= 300 && res.status < 400 && location !== null ? new URL(location, url).toString() : undefined;
}

/** A redirect chain that comes back to a URL it already visited, or never ends, is a broken server. */
function redirectError(chain: string[], looped: boolean): OvisError {
  const shown = chain.length > 4 ? [...chain.slice(0, 2), '…', ...chain.slice(-2)] : chain;
  const what = looped ? 'in a loop' : `more than ${MAX_REDIRECTS} times`;
  return new OvisError(
    'HUB_BAD_RESPONSE',
    `The server redirected ${what} (${shown.join(' → ')}): it does not behave like the Hugging Face Hub or its storage. Check HF_ENDPOINT, or try again later.`,
  );
}

/**
 * Sends the request and follows redirects itself, so the token travels only while every hop stays on the
 * origin of the one before it: once dropped it is never sent again. Loops and overly long chains give a
 * HUB_BAD_RESPONSE naming the chain.
 */
export async function fetchFollowingRedirects(url: string, o: FollowOptions): Promise<FollowedResponse> {
  let token = o.token;
  const chain = [url];
  for (;;) {
    const res = await fetch(url, { method: o.method ?? 'GET', headers: hubHeaders(token, o.headers), redirect: 'manual', signal: o.signal ?? null });
    const next = redirectTarget(res, url);
    if (next === undefined) return { res, url };
    if (o.follow === 'same-origin' && !sameOrigin(url, next)) return { res, url, crossOriginTarget: next };
    await res.body?.cancel();
    const looped = chain.includes(next);
    chain.push(next);
    if (looped || chain.length > MAX_REDIRECTS + 1) throw redirectError(chain, looped);
    if (!sameOrigin(url, next)) token = undefined;
    url = next;
  }
}
