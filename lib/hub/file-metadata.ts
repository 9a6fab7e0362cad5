import { OvisError } from '../errors.js';
import { hubHeaders, networkError, responseError, type RequestContext } from './http.js';
import { staysOnHub } from './redirects.js';

/** What the Hub says about one file before it is downloaded. */
export interface FileMetadata {
  commit: string | undefined; // X-Repo-Commit
  etag: string; // blob name: X-Linked-Etag (sha256 of LFS files) or ETag (git oid of small files)
  size: number; // X-Linked-Size or Content-Length
}

/**
 * The blob name huggingface_hub derives from an ETag header: Python's `etag.lstrip("W/").strip('"')`,
 * i.e. leading W and / characters, then quotes at both ends, are dropped.
 */
export function normalizeEtag(raw: string): string {
  return raw.replace(/^[W/]+/, '').replace(/^"+|"+$/g, '');
}

export function resolveUrl(endpoint: string, repoId: string, revision: string, path: string): string {
  const encodedPath = path.split('/').map(encodeURIComponent).join('/');
  return `${endpoint}/${repoId}/resolve/${encodeURIComponent(revision)}/${encodedPath}`;
}

/** Size of a storage object that a redirect without X-Linked-Size points at (asked without the token). */
async function storageSize(url: string, signal: AbortSignal | undefined): Promise<number | undefined> {
  const res = await fetch(url, { method: 'HEAD', headers: hubHeaders(undefined), signal: signal ?? null });
  const len = res.ok ? res.headers.get('content-length') : null;
  return len === null ? undefined : Number(len);
}

/**
 * HEAD /{repo}/resolve/{rev}/{path}, the way huggingface_hub's get_hf_file_metadata does it: redirects
 * that stay on the Hub (a renamed repo) are followed; at a redirect to storage the Hub puts the file's
 * metadata (X-Linked-Etag, X-Linked-Size, X-Repo-Commit) on the redirect itself, so it is not followed.
 */
export async function fetchFileMetadata(ctx: RequestContext & { file: string }, token: string | undefined, signal?: AbortSignal): Promise<FileMetadata> {
  let url = resolveUrl(ctx.endpoint, ctx.repoId, ctx.revision, ctx.file);
  try {
    for (let hop = 0; hop < 10; hop++) {
      const res = await fetch(url, { method: 'HEAD', redirect: 'manual', headers: hubHeaders(token), signal: signal ?? null });
      const location = res.headers.get('location');
      const target = res.status >= 300 && res.status < 400 && location !== null ? new URL(location, url).toString() : undefined;
      if (target !== undefined && staysOnHub(url, target, ctx.endpoint)) {
        url = target;
        continue;
      }
      if (!res.ok && target === undefined) throw await responseError(res, ctx);
      const etag = res.headers.get('x-linked-etag') ?? res.headers.get('etag');
      // A redirect's own Content-Length is not the file's.
      const linkedSize = res.headers.get('x-linked-size') ?? (target ? null : res.headers.get('content-length'));
      const size = linkedSize !== null ? Number(linkedSize) : target ? await storageSize(target, signal) : undefined;
      if (!etag || size === undefined || !Number.isSafeInteger(size) || size < 0) {
        throw new OvisError('HUB_BAD_RESPONSE', `${url} gave no ETag or size: it does not answer like the Hugging Face Hub. Check HF_ENDPOINT.`);
      }
      const blobName = normalizeEtag(etag);
      if (!/^[\w.-]{1,200}$/.test(blobName) || blobName.includes('..')) {
        throw new OvisError('HUB_BAD_RESPONSE', `${url} gave an ETag that cannot name a cache file: ${JSON.stringify(etag)}`);
      }
      return { commit: res.headers.get('x-repo-commit') ?? undefined, etag: blobName, size };
    }
    throw new OvisError('HUB_BAD_RESPONSE', `Too many redirects for ${url}`);
  } catch (err) {
    throw networkError(err, ctx, signal);
  }
}
