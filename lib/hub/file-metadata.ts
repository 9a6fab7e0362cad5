import { OvisError } from '../errors.js';
import { hubHeaders, networkError, responseError, type RequestContext } from './http.js';

/** What the Hub says about one file before it is downloaded. */
export interface FileMetadata {
  commit: string | undefined; // X-Repo-Commit
  etag: string; // blob name: X-Linked-Etag (sha256 of LFS files) or ETag (git oid of small files)
  size: number; // X-Linked-Size or Content-Length
}

/** Strips W/ and quotes, as huggingface_hub does before naming a blob after the etag. */
export function normalizeEtag(raw: string): string {
  return raw.replace(/^W\//, '').replace(/^"|"$/g, '');
}

export function resolveUrl(endpoint: string, repoId: string, revision: string, path: string): string {
  const encodedPath = path.split('/').map(encodeURIComponent).join('/');
  return `${endpoint}/${repoId}/resolve/${encodeURIComponent(revision)}/${encodedPath}`;
}

/**
 * HEAD /{repo}/resolve/{rev}/{path}. Redirects to the storage CDN are not followed: the Hub puts the
 * file's metadata on the redirect itself. Relative redirects (a renamed repo) are followed.
 */
export async function fetchFileMetadata(ctx: RequestContext & { file: string }, token: string | undefined, signal?: AbortSignal): Promise<FileMetadata> {
  let url = resolveUrl(ctx.endpoint, ctx.repoId, ctx.revision, ctx.file);
  try {
    for (let hop = 0; hop < 5; hop++) {
      const res = await fetch(url, { method: 'HEAD', redirect: 'manual', headers: hubHeaders(token), signal: signal ?? null });
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location?.startsWith('/')) {
        url = new URL(location, url).toString();
        continue;
      }
      if (!res.ok && !(res.status >= 300 && res.status < 400)) throw await responseError(res, ctx);
      const etag = res.headers.get('x-linked-etag') ?? res.headers.get('etag');
      const size = Number(res.headers.get('x-linked-size') ?? res.headers.get('content-length') ?? NaN);
      if (!etag || !Number.isSafeInteger(size) || size < 0) {
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
