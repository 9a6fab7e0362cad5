import { OvisError } from '../errors.js';
import { COMMIT_HASH } from './cache-layout.js';
import { hubHeaders, networkError, responseError, type RequestContext } from './http.js';

/** One revision of a repo: the commit it resolves to and every file path in it. */
export interface RevisionInfo {
  commit: string;
  paths: string[];
}

/** GET /api/models/{repo}/revision/{revision}, the call huggingface_hub's model_info makes. */
export async function fetchRevisionInfo(ctx: RequestContext, token: string | undefined, signal?: AbortSignal): Promise<RevisionInfo> {
  const url = `${ctx.endpoint}/api/models/${ctx.repoId}/revision/${encodeURIComponent(ctx.revision)}`;
  let res: Response;
  let body: unknown;
  try {
    res = await fetch(url, { headers: hubHeaders(token), signal: signal ?? null });
    if (!res.ok) throw await responseError(res, ctx);
    const text = await res.text();
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined; // reported below as not-the-Hub
    }
  } catch (err) {
    throw networkError(err, ctx, signal);
  }
  const info = body as { sha?: unknown; siblings?: Array<{ rfilename?: unknown }> };
  if (typeof info.sha !== 'string' || !COMMIT_HASH.test(info.sha) || !Array.isArray(info.siblings)) {
    throw new OvisError('HUB_BAD_RESPONSE', `${url} did not answer like the Hugging Face Hub (no commit sha / file list). Check HF_ENDPOINT.`);
  }
  const paths = info.siblings.map((s) => s.rfilename).filter((p): p is string => typeof p === 'string');
  return { commit: info.sha, paths };
}
