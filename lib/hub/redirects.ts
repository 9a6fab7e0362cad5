import { hubHeaders } from './http.js';

/** Hosts huggingface_hub treats as the Hub itself (its constants.HF_URL_HOSTS; the endpoint's host is added by the caller). */
const HUB_HOSTS = new Set(['hf.co', 'huggingface.co', 'hub-ci.huggingface.co']);

/**
 * huggingface_hub's rule for a redirect from `from` to `to`: it stays on the Hub when it keeps the host or
 * goes to a Hub host. Leaving it means signed storage (CDN / S3), which must not get the token.
 */
export function staysOnHub(from: string, to: string, endpoint: string): boolean {
  const host = new URL(to).hostname.toLowerCase();
  return host === new URL(from).hostname.toLowerCase() || host === new URL(endpoint).hostname.toLowerCase() || HUB_HOSTS.has(host);
}

const MAX_REDIRECTS = 10;

/**
 * GET that follows redirects itself so the token is sent only while they stay on the Hub, as huggingface_hub
 * does: storage that gets an Authorization header beside its signed URL may refuse the request.
 */
export async function getDroppingTokenOffHub(
  url: string,
  o: { token: string | undefined; endpoint: string; headers: Record<string, string>; signal: AbortSignal },
): Promise<Response> {
  let token = o.token;
  for (let hop = 0; ; hop++) {
    const res = await fetch(url, { headers: hubHeaders(token, o.headers), redirect: 'manual', signal: o.signal });
    const location = res.headers.get('location');
    if (res.status < 300 || res.status >= 400 || location === null || hop === MAX_REDIRECTS) return res;
    await res.body?.cancel();
    const next = new URL(location, url).toString();
    if (!staysOnHub(url, next, o.endpoint)) token = undefined;
    url = next;
  }
}
