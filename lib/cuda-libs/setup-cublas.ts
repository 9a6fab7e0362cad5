/**
 * `ovis-image setup cuda`: puts NVIDIA's redistributable cuBLAS for CUDA 13 into ovis-image's cache
 * ($XDG_CACHE_HOME/ovis-image/cublas13), where the finder and the C++ loader look last. From the
 * nvidia-cublas wheel of a package index (sha256 checked, resumable) or from a wheel file already on
 * disk (`--wheel`, for machines without network). Only run when the user asks.
 */
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AbortError, OvisError } from '../errors.js';
import { extractCublas } from './extract-libs.js';
import { libraryVersion } from './library-version.js';
import { CUBLASLT_13, cublasCacheDir, ovisCacheDir } from './places.js';
import { downloadResumable, sha256File } from './resumable-download.js';
import { findWheel, indexUrl, WHEEL_PROJECT, type WheelFile } from './wheel-index.js';

export interface SetupProgress {
  phase: 'index' | 'download' | 'verify' | 'extract' | 'done';
  message: string;
  bytes?: number;
  total?: number;
}

export interface SetupOptions {
  env?: NodeJS.ProcessEnv;
  /** An exact nvidia-cublas version, e.g. '13.1.1.3'; default: the newest 13.x. */
  version?: string;
  /** A downloaded nvidia-cublas wheel to install from instead of the index. */
  wheel?: string;
  /** Fetch again even when the cache already has the libraries. */
  force?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: SetupProgress) => void;
}

export interface SetupResult {
  dir: string;
  version: string | undefined;
  files: string[];
  /** The cache already had them: nothing was fetched. */
  cached: boolean;
}

const PAGE_TIMEOUT_MS = 30_000;

/** What to do when the index cannot be reached. */
function offlineHelp(env: NodeJS.ProcessEnv | undefined): string {
  return (
    `Check the network connection or proxy and run again (a partial download resumes); or set OVIS_CUDA_INDEX_URL to a reachable ` +
    `package index (a PEP 503 mirror of ${WHEEL_PROJECT}); or on a machine with network download an nvidia_cublas-13.*-manylinux wheel ` +
    `from ${indexUrl(env)}/${WHEEL_PROJECT}/ and run \`ovis-image setup cuda --wheel <file>\`; or install CUDA 13's cuBLAS another way ` +
    `(\`pip install nvidia-cublas\`, the CUDA 13 toolkit) and, if it is not found, set OVIS_CUBLASLT_PATH to its libcublasLt.so.13`
  );
}

function networkFetch(env: NodeJS.ProcessEnv | undefined, signal: AbortSignal | undefined, timeoutMs?: number) {
  return async (url: string, headers: Record<string, string> = {}): Promise<Response> => {
    const signals = [signal, timeoutMs ? AbortSignal.timeout(timeoutMs) : undefined].filter((s): s is AbortSignal => s !== undefined);
    try {
      return await fetch(url, { headers: { 'user-agent': `ovis-image; node/${process.versions.node}`, ...headers }, redirect: 'follow', signal: signals.length ? AbortSignal.any(signals) : null });
    } catch (err) {
      if (signal?.aborted) throw new AbortError('setup cuda was aborted', { cause: err });
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new OvisError('CUDA_SETUP_NETWORK', `could not reach ${url} (${why}). ${offlineHelp(env)}`, { cause: err });
    }
  };
}

function writeError(err: unknown, dir: string): unknown {
  const code = (err as { code?: unknown }).code;
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOSPC' || code === 'EDQUOT') {
    return new OvisError('CUDA_SETUP_WRITE', `cannot write ${dir} (${String(code)}): free some disk space or set XDG_CACHE_HOME to a writable folder`, { cause: err });
  }
  return err;
}

async function cachedSetup(dir: string): Promise<SetupResult | undefined> {
  const file = path.join(dir, CUBLASLT_13);
  const ok = await stat(file).then((s) => s.isFile(), () => false);
  return ok ? { dir, version: await libraryVersion(file), files: [file], cached: true } : undefined;
}

async function fetchWheel(o: SetupOptions): Promise<{ file: string; wheel: WheelFile }> {
  const report = o.onProgress ?? (() => undefined);
  report({ phase: 'index', message: `looking up ${WHEEL_PROJECT} on ${indexUrl(o.env)}` });
  const wheel = await findWheel({ env: o.env ?? process.env, ...(o.version ? { version: o.version } : {}), fetchPage: (url) => networkFetch(o.env, o.signal, PAGE_TIMEOUT_MS)(url, { accept: 'application/vnd.pypi.simple.v1+json, text/html;q=0.1' }) });
  const file = path.join(ovisCacheDir(o.env), 'downloads', wheel.filename);
  report({ phase: 'download', message: `downloading ${wheel.filename}`, bytes: 0, total: 0 });
  await downloadResumable({
    url: wheel.url,
    sha256: wheel.sha256,
    file,
    ...(o.signal ? { signal: o.signal } : {}),
    onProgress: (bytes, total) => report({ phase: 'download', message: wheel.filename, bytes, total }),
    fetchFile: networkFetch(o.env, o.signal),
  });
  return { file, wheel };
}

/** Extracts into a fresh folder beside the cache folder, then swaps it in, so a failure leaves the old one. */
async function install(wheelFile: string, meta: object, dir: string): Promise<string[]> {
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    const files = await extractCublas(wheelFile, tmp);
    await writeFile(path.join(tmp, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
    return files.map((f) => path.join(dir, path.basename(f)));
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

export async function setupCublas(o: SetupOptions = {}): Promise<SetupResult> {
  const dir = cublasCacheDir(o.env);
  const report = o.onProgress ?? (() => undefined);
  if (!o.force && !o.wheel && !o.version) {
    const have = await cachedSetup(dir);
    if (have) return have;
  }
  try {
    let wheelFile: string;
    let meta: { version: string | undefined; sha256: string; source: string };
    if (o.wheel) {
      wheelFile = path.resolve(o.wheel);
      report({ phase: 'verify', message: `hashing ${wheelFile}` });
      meta = { version: /^nvidia_cublas-([\d.]+)-/.exec(path.basename(wheelFile))?.[1], sha256: await sha256File(wheelFile), source: wheelFile };
    } else {
      const { file, wheel } = await fetchWheel(o);
      wheelFile = file;
      meta = { version: wheel.version, sha256: wheel.sha256, source: wheel.url };
    }
    report({ phase: 'extract', message: `extracting ${CUBLASLT_13} and libcublas.so.13 into ${dir}` });
    const files = await install(wheelFile, meta, dir);
    if (!o.wheel) await rm(wheelFile, { force: true }); // the libraries are out; the ~500 MB wheel is not needed
    report({ phase: 'done', message: `cuBLAS ${meta.version ?? ''} is in ${dir}` });
    return { dir, version: meta.version, files, cached: false };
  } catch (err) {
    throw writeError(err, dir);
  }
}
