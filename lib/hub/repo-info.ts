import { OvisError } from '../errors.js';
import { COMMIT_HASH } from './cache-layout.js';
import { networkError, responseError, type RequestContext } from './http.js';
import { fetchFollowingRedirects } from './redirects.js';

/** One revision of a repo: the commit it resolves to and every file path in it. */
export interface RevisionInfo {
  commit: string;
  paths: string[];
}

/** What a 200 answer that is not the Hub's JSON looks like, for the error message. */
function describeNonJson(text: string, contentType: string): string {
  const title = /<title[^>]*>([^<]{0,80})/i.exec(text)?.[1]?.trim();
  if (/html/i.test(contentType) || /^\s*</.test(text)) return `an HTML page${title ? ` ("${title}")` : ''}`;
  const start = text.trim().slice(0, 40);
  return start === '' ? 'an empty body' : `something that is not JSON (it starts ${JSON.stringify(start)})`;
}

function notTheHub(url: string, what: string): OvisError {
  return new OvisError(
    'HUB_BAD_RESPONSE',
    `${url} answered HTTP 200 with ${what} instead of the Hub's JSON about the repo: HF_ENDPOINT does not point at a Hugging Face Hub (a login page, proxy or web page?). Check HF_ENDPOINT.`,
  );
}

/** The commit and file list out of the API's JSON, or an error saying what the server sent instead. */
function parseRevisionInfo(url: string, text: string, contentType: string): RevisionInfo {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw notTheHub(url, describeNonJson(text, contentType));
  }
  const info = (typeof body === 'object' && body !== null ? body : {}) as { sha?: unknown; siblings?: unknown };
  if (typeof info.sha !== 'string' || !COMMIT_HASH.test(info.sha) || !Array.isArray(info.siblings)) {
    throw notTheHub(url, 'JSON that has no commit sha and file list');
  }
  const paths = (info.siblings as Array<{ rfilename?: unknown } | null>).map((s) => s?.rfilename).filter((p): p is string => typeof p === 'string');
  return { commit: info.sha, paths };
}

/** GET /api/models/{repo}/revision/{revision}, the call huggingface_hub's model_info makes. */
export async function fetchRevisionInfo(ctx: RequestContext, token: string | undefined, signal?: AbortSignal): Promise<RevisionInfo> {
  const first = `${ctx.endpoint}/api/models/${ctx.repoId}/revision/${encodeURIComponent(ctx.revision)}`;
  try {
    const { res, url } = await fetchFollowingRedirects(first, { token, signal, follow: 'all' });
    if (!res.ok) throw await responseError(res, ctx, url);
    return parseRevisionInfo(url, await res.text(), res.headers.get('content-type') ?? '');
  } catch (err) {
    throw networkError(err, ctx, signal);
  }
}
