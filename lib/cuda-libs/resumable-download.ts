/**
 * Downloads one file into `<file>.part`, resuming a partial one with a Range request, then checks its
 * sha256 and renames it into place. A hash mismatch deletes the partial file (the next run starts over).
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AbortError, OvisError } from '../errors.js';

export interface DownloadJob {
  url: string;
  sha256: string;
  file: string;
  signal?: AbortSignal;
  onProgress?: (bytes: number, total: number) => void;
  fetchFile: (url: string, headers: Record<string, string>) => Promise<Response>;
}

async function sizeOf(file: string): Promise<number> {
  return stat(file).then((s) => s.size, () => 0);
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

async function fetchRest(job: DownloadJob, part: string): Promise<{ res: Response; offset: number }> {
  const have = await sizeOf(part);
  const headers: Record<string, string> = { 'accept-encoding': 'identity', ...(have > 0 ? { range: `bytes=${have}-` } : {}) };
  const res = await job.fetchFile(job.url, headers);
  if (res.status === 416 && have > 0) return { res, offset: have }; // nothing left to fetch
  if (!res.ok) throw new OvisError('CUDA_SETUP_BAD_RESPONSE', `HTTP ${res.status} for ${job.url}`);
  // 206: the server resumed; 200: it sent the whole file, so start over.
  return { res, offset: res.status === 206 ? have : 0 };
}

const WRITE_CODES = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT']);

/** A transfer that stopped: disk errors pass through, an abort is an AbortError, the rest is the network's. */
function brokenOff(err: unknown, job: DownloadJob, bytes: number): unknown {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && WRITE_CODES.has(code)) return err;
  if (job.signal?.aborted) return new AbortError('setup cuda was aborted; run it again to resume', { cause: err });
  const why = (err as { cause?: { code?: string; message?: string } }).cause?.code ?? (err as Error).message;
  return new OvisError('CUDA_SETUP_NETWORK', `the download of ${job.url} broke off after ${bytes} bytes (${why}); run the command again: it resumes where it stopped`, { cause: err });
}

/** Resolves to the finished file (job.file); the partial download is `${job.file}.part`. */
export async function downloadResumable(job: DownloadJob): Promise<string> {
  const part = `${job.file}.part`;
  await mkdir(path.dirname(job.file), { recursive: true });
  const { res, offset } = await fetchRest(job, part);
  if (res.status !== 416 && res.body) {
    const length = Number(res.headers.get('content-length') ?? NaN);
    const total = Number.isFinite(length) ? offset + length : NaN;
    let bytes = offset;
    const count = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        job.onProgress?.(bytes, Number.isFinite(total) ? total : bytes);
        done(null, chunk);
      },
    });
    job.onProgress?.(bytes, Number.isFinite(total) ? total : bytes);
    const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
    try {
      await pipeline(body, count, createWriteStream(part, { flags: offset > 0 ? 'a' : 'w' }), { signal: job.signal });
    } catch (err) {
      throw brokenOff(err, job, bytes);
    }
  }
  const actual = await sha256File(part);
  if (actual !== job.sha256) {
    await rm(part, { force: true });
    throw new OvisError('CUDA_SETUP_CORRUPT', `the download of ${job.url} has sha256 ${actual}, but the index says ${job.sha256}; it was deleted: run the command again`);
  }
  await rename(part, job.file);
  return job.file;
}
