import { AbortError, OvisError } from '../errors.js';

/** What a request to the Hub is about, so errors can name the repo, revision and file. */
export interface RequestContext {
  endpoint: string;
  repoId: string;
  revision: string;
  file?: string;
  hasToken: boolean;
}

const USER_AGENT = `ovis-image; node/${process.versions.node}`;

export function hubHeaders(token: string | undefined, extra: Record<string, string> = {}): Record<string, string> {
  // identity: Content-Length must be the file's true size, and Range offsets byte offsets of the file.
  const h: Record<string, string> = { 'user-agent': USER_AGENT, 'accept-encoding': 'identity', ...extra };
  if (token) h['authorization'] = `Bearer ${token}`;
  return h;
}

function causeCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 4 && e; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Turns a thrown fetch/stream failure into AbortError or a HUB_NETWORK error that says what to do. */
export function networkError(err: unknown, ctx: RequestContext, signal?: AbortSignal): OvisError {
  if (err instanceof OvisError) return err;
  if (signal?.aborted || (err as Error | undefined)?.name === 'AbortError') {
    return new AbortError(`Download of ${ctx.repoId} was aborted`, { cause: err });
  }
  const code = causeCode(err) ?? (err as Error | undefined)?.message ?? 'unknown error';
  const what = ctx.file ? `${ctx.file} of ${ctx.repoId}` : ctx.repoId;
  return new OvisError(
    'HUB_NETWORK',
    `Could not download ${what} from ${ctx.endpoint} (${code}). Check your network connection or proxy ` +
      `(HF_ENDPOINT can point at a mirror) and run again: finished files are kept and a partial file resumes. ` +
      `To use only files already in the cache, set HF_HUB_OFFLINE=1.`,
    { cause: err },
  );
}

/**
 * A refusal from the storage the Hub redirected a download to (its CDN or S3): not a question of tokens or
 * licences, since that server gets a signed link and no token. Says which server did what.
 */
export function storageError(res: Response, url: string, ctx: RequestContext): OvisError {
  const host = new URL(url).host;
  const what = `${ctx.file ?? 'a file'} of ${ctx.repoId}`;
  const why =
    res.status === 401 || res.status === 403
      ? 'refused the signed download link the Hub gave (it may have expired): run again to get a fresh one'
      : res.status === 404
        ? 'has no object at the link the Hub gave: the file may be being replaced; try again later'
        : 'failed: try again later';
  return new OvisError('HUB_BAD_RESPONSE', `The storage server ${host} that the Hub sent ${what} to answered HTTP ${res.status}: it ${why}.`);
}

/** Maps a non-2xx Hub answer to a typed error; the Hub names the problem in the X-Error-Code header. */
export async function responseError(res: Response, ctx: RequestContext, url?: string): Promise<OvisError> {
  if (url !== undefined && new URL(url).origin !== new URL(ctx.endpoint).origin) {
    await res.body?.cancel();
    return storageError(res, url, ctx);
  }
  const errorCode = res.headers.get('x-error-code') ?? '';
  let serverMessage = res.headers.get('x-error-message') ?? '';
  if (!serverMessage) {
    try {
      const body = await res.text();
      serverMessage = (JSON.parse(body) as { error?: string }).error ?? body.slice(0, 200);
    } catch {
      /* no readable body */
    }
  }
  const detail = serverMessage ? ` (Hub said: ${serverMessage.trim()})` : ` (HTTP ${res.status})`;
  const page = `${ctx.endpoint}/${ctx.repoId}`;
  if (errorCode === 'GatedRepo' || (!errorCode && (res.status === 401 || res.status === 403))) {
    const fix = ctx.hasToken
      ? `Your token was sent: accept the licence on ${page} with that account, or check that HF_TOKEN is valid and has read access.`
      : `Set HF_TOKEN to a Hugging Face access token (https://huggingface.co/settings/tokens) and accept the licence on ${page}.`;
    return new OvisError('HUB_GATED', `${ctx.repoId} needs authorisation to download${detail}. ${fix}`);
  }
  if (errorCode === 'RevisionNotFound') {
    return new OvisError(
      'HUB_REVISION_NOT_FOUND',
      `Revision "${ctx.revision}" was not found in ${ctx.repoId}${detail}. Use a branch, tag or commit hash that exists (see ${page}/tree/main), or leave --revision out for main.`,
    );
  }
  if (errorCode === 'EntryNotFound') {
    return new OvisError('HUB_NOT_FOUND', `${ctx.file ?? 'A file'} is listed in ${ctx.repoId}@${ctx.revision} but could not be found${detail}. Try again; if it persists, the repo is being changed.`);
  }
  if (errorCode === 'RepoNotFound' || res.status === 404) {
    const priv = ctx.hasToken ? '' : ' If it is private, set HF_TOKEN to a token that can read it.';
    return new OvisError('HUB_NOT_FOUND', `Model repo ${ctx.repoId} was not found on ${ctx.endpoint}${detail}. Check the spelling (owner/name, e.g. AIDC-AI/Ovis-Image-7B).${priv}`);
  }
  return new OvisError('HUB_NETWORK', `The Hub answered HTTP ${res.status} for ${ctx.file ?? ctx.repoId}${detail}. Try again later.`);
}

/** True for answers worth retrying (server busy or failing), as opposed to answers about the request. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}
