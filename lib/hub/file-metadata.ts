import { OvisError } from '../errors.js';
import { networkError, responseError, type RequestContext } from './http.js';
import { fetchFollowingRedirects } from './redirects.js';

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
async function storageSize(url: string, ctx: RequestContext & { file: string }, signal: AbortSignal | undefined): Promise<number | undefined> {
  const { res, url: answered } = await fetchFollowingRedirects(url, { method: 'HEAD', token: undefined, signal, follow: 'all' });
  if (!res.ok) throw await responseError(res, ctx, answered);
  const len = res.headers.get('content-length');
  return len === null ? undefined : Number(len);
}

/**
 * A blob name must stay a plain file inside blobs/: no leading dot (".", "..", hidden files), no path
 * characters, and not one of the names our own partial or lock files take.
 */
function isUsableBlobName(name: string): boolean {
  return /^[\w-][\w.-]{0,199}$/.test(name) && !name.includes('..') && !/\.(incomplete|lock)$/.test(name);
}

/**
 * HEAD /{repo}/resolve/{rev}/{path}, the way huggingface_hub's get_hf_file_metadata does it: redirects
 * on the same origin (a renamed repo) are followed; at a redirect elsewhere (storage) the Hub puts the
 * file's metadata (X-Linked-Etag, X-Linked-Size, X-Repo-Commit) on the redirect itself, so it is not followed.
 */
export async function fetchFileMetadata(ctx: RequestContext & { file: string }, token: string | undefined, signal?: AbortSignal): Promise<FileMetadata> {
  try {
    const first = resolveUrl(ctx.endpoint, ctx.repoId, ctx.revision, ctx.file);
    const { res, url, crossOriginTarget: target } = await fetchFollowingRedirects(first, { method: 'HEAD', token, signal, follow: 'same-origin' });
    if (!res.ok && target === undefined) throw await responseError(res, ctx, url);
    const etag = res.headers.get('x-linked-etag') ?? res.headers.get('etag');
    // A redirect's own Content-Length is not the file's.
    const linkedSize = res.headers.get('x-linked-size') ?? (target ? null : res.headers.get('content-length'));
    const size = linkedSize !== null ? Number(linkedSize) : target ? await storageSize(target, ctx, signal) : undefined;
    if (!etag || size === undefined || !Number.isSafeInteger(size) || size < 0) {
      const got = `ETag ${JSON.stringify(etag)}, size ${JSON.stringify(linkedSize ?? size ?? null)}`;
      throw new OvisError('HUB_BAD_RESPONSE', `${url} answered HTTP ${res.status} without a usable ETag and size (${got}): it does not answer like the Hugging Face Hub. Check HF_ENDPOINT.`);
    }
    const blobName = normalizeEtag(etag);
    if (!isUsableBlobName(blobName)) {
      throw new OvisError('HUB_BAD_RESPONSE', `${url} answered with the ETag ${JSON.stringify(etag)}, which cannot name a file in the cache (the Hub sends a git or sha256 hash). Check HF_ENDPOINT.`);
    }
    return { commit: res.headers.get('x-repo-commit') ?? undefined, etag: blobName, size };
  } catch (err) {
    throw networkError(err, ctx, signal);
  }
}
