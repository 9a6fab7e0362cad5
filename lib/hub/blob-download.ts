import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { OvisError } from '../errors.js';
import { COMMIT_HASH, SHA256_HEX } from './cache-layout.js';
import { cacheWriteError } from './fs-errors.js';
import { isRetryableStatus, networkError, responseError, type RequestContext } from './http.js';
import { fetchFollowingRedirects } from './redirects.js';

/** One blob to bring into the cache. */
export interface BlobJob {
  ctx: RequestContext & { file: string };
  url: string; // resolve URL at the commit; the Hub may redirect it to its CDN
  etag: string;
  size: number;
  blobPath: string;
  incompletePath: string;
  cacheDir: string;
  /** The cached blob failed the snapshot check: fetch it again even though its size is right. */
  refetch?: boolean;
}

export interface BlobDownloadOptions {
  token: string | undefined;
  signal: AbortSignal;
  retries: number; // extra attempts after a broken connection or a 5xx, each resuming where it stopped
  retryDelayMs: number;
  onBytes: (fileBytes: number) => void; // bytes of this file on disk so far
  /** Test hook: runs before each chunk is written; throwing simulates a write failure (e.g. ENOSPC). */
  beforeWrite?: ((file: string, offset: number, length: number) => void) | undefined;
}

async function sizeOf(p: string): Promise<number | undefined> {
  try {
    return (await stat(p)).size;
  } catch {
    return undefined;
  }
}

/**
 * The hash the blob's name promises: sha256 for LFS files, and for small files git's object id
 * (sha1 of "blob <size>\0" + content), which is the ETag the Hub gives them. Undefined for other names.
 */
function expectedHash(etag: string, size: number): Hash | undefined {
  if (SHA256_HEX.test(etag)) return createHash('sha256');
  if (COMMIT_HASH.test(etag)) return createHash('sha1').update(`blob ${size}\0`);
  return undefined;
}

/** The hash of the first `length` bytes on disk, so a resumed download can be verified in one pass. */
async function hashPrefix(p: string, length: number, hash: Hash): Promise<Hash> {
  if (length === 0) return hash;
  for await (const chunk of createReadStream(p, { start: 0, end: length - 1 })) hash.update(chunk as Buffer);
  return hash;
}

async function writeAll(fh: FileHandle, chunk: Uint8Array): Promise<void> {
  let off = 0;
  while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
}

/** Thrown inside an attempt when the connection broke or the server failed: the next attempt resumes. */
class RetryableError extends Error {}

/**
 * Brings one blob into the cache: appends to blobs/<etag>.incomplete with a Range request from its
 * current size, and renames it to blobs/<etag> only once its size (and sha256 for LFS files) is right,
 * so a file named like a finished blob is always whole.
 */
export async function downloadBlob(job: BlobJob, o: BlobDownloadOptions): Promise<void> {
  const existing = await sizeOf(job.blobPath);
  if (existing === job.size && !job.refetch) return o.onBytes(job.size);
  const fsWrap = async <T>(path: string, f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (err) {
      throw cacheWriteError(err, path, job.cacheDir);
    }
  };
  // A finished blob of the wrong size (or one the snapshot check refused) is not that blob: fetch it again.
  if (existing !== undefined) await fsWrap(job.blobPath, () => rm(job.blobPath, { force: true }));
  await fsWrap(dirname(job.blobPath), () => mkdir(dirname(job.blobPath), { recursive: true }));
  const partial = await sizeOf(job.incompletePath);
  if (partial !== undefined && partial > job.size) await fsWrap(job.incompletePath, () => rm(job.incompletePath));

  let lastError: unknown;
  for (let attempt = 0; attempt <= o.retries; attempt++) {
    if (attempt > 0) await sleep(o.retryDelayMs * 2 ** (attempt - 1), undefined, { signal: o.signal }).catch(() => {});
    if (o.signal.aborted) throw networkError(o.signal.reason, job.ctx, o.signal);
    try {
      await fetchIntoIncomplete(job, o, fsWrap);
      if (await verifyAndFinish(job, o, fsWrap)) return;
      lastError = new OvisError('HUB_CORRUPT', `${job.ctx.file} of ${job.ctx.repoId} did not match its hash (${job.etag}) after download; it was deleted. Run again.`);
    } catch (err) {
      if (!(err instanceof RetryableError)) throw err;
      lastError = err.cause;
    }
  }
  throw lastError instanceof OvisError ? lastError : networkError(lastError, job.ctx, o.signal);
}

type FsWrap = <T>(path: string, f: () => Promise<T>) => Promise<T>;

/** One attempt: resume the .incomplete file up to the expected size. */
async function fetchIntoIncomplete(job: BlobJob, o: BlobDownloadOptions, fsWrap: FsWrap): Promise<void> {
  let start = (await sizeOf(job.incompletePath)) ?? 0;
  o.onBytes(start);
  if (start >= job.size) {
    // A zero-byte file needs no request, but its .incomplete must exist to be renamed.
    if (job.size === 0) await fsWrap(job.incompletePath, async () => (await open(job.incompletePath, 'a')).close());
    return;
  }
  let res: Response;
  let answeredBy: string;
  try {
    const range: Record<string, string> = start > 0 ? { range: `bytes=${start}-` } : {};
    ({ res, url: answeredBy } = await fetchFollowingRedirects(job.url, { token: o.token, headers: range, signal: o.signal, follow: 'all' }));
  } catch (err) {
    if (err instanceof OvisError || o.signal.aborted) throw networkError(err, job.ctx, o.signal);
    throw new RetryableError('request failed', { cause: err });
  }
  if (res.status === 416) {
    // The server does not have what we think we have: start over.
    await res.body?.cancel();
    await fsWrap(job.incompletePath, () => rm(job.incompletePath, { force: true }));
    throw new RetryableError('range not satisfiable', { cause: new Error('HTTP 416') });
  }
  if (!res.ok) {
    const err = await responseError(res, job.ctx, answeredBy);
    if (isRetryableStatus(res.status)) throw new RetryableError('server error', { cause: err });
    throw err;
  }
  const resumed = res.status === 206 && (res.headers.get('content-range') ?? '').startsWith(`bytes ${start}-`);
  const fh = await fsWrap(job.incompletePath, () => open(job.incompletePath, 'a'));
  try {
    if (!resumed && start > 0) {
      await fsWrap(job.incompletePath, () => fh.truncate(0)); // the server sent the whole file
      start = 0;
      o.onBytes(0);
    }
    let offset = start;
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        if (offset + chunk.length > job.size) {
          throw new OvisError('HUB_CORRUPT', `The server sent more than the ${job.size} bytes announced for ${job.ctx.file}`);
        }
        await fsWrap(job.incompletePath, async () => {
          o.beforeWrite?.(job.ctx.file, offset, chunk.length);
          await writeAll(fh, chunk);
        });
        offset += chunk.length;
        o.onBytes(offset);
      }
    } catch (err) {
      if (err instanceof OvisError) {
        if (err.code === 'HUB_CORRUPT') await fsWrap(job.incompletePath, () => rm(job.incompletePath, { force: true }));
        throw err;
      }
      if (o.signal.aborted) throw networkError(err, job.ctx, o.signal);
      throw new RetryableError('connection broke', { cause: err });
    }
    if (offset < job.size) {
      throw new RetryableError('short body', { cause: new Error(`connection closed after ${offset} of ${job.size} bytes`) });
    }
  } finally {
    await fh.close();
  }
}

/** Checks the finished .incomplete file and renames it to the blob; false (file deleted) on a hash mismatch. */
async function verifyAndFinish(job: BlobJob, o: BlobDownloadOptions, fsWrap: FsWrap): Promise<boolean> {
  const size = (await sizeOf(job.incompletePath)) ?? 0;
  if (size !== job.size) throw new RetryableError('size mismatch', { cause: new Error(`got ${size} of ${job.size} bytes`) });
  const hash = expectedHash(job.etag, size);
  if (hash) {
    const digest = (await hashPrefix(job.incompletePath, size, hash)).digest('hex');
    if (digest !== job.etag) {
      await fsWrap(job.incompletePath, () => rm(job.incompletePath, { force: true }));
      o.onBytes(0);
      return false;
    }
  }
  await fsWrap(job.blobPath, () => rename(job.incompletePath, job.blobPath));
  return true;
}
