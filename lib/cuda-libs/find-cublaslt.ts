/**
 * Finds CUDA 13's cuBLASLt the way the CUDA addon will load it, by looking at the file system only (no
 * Python is run): OVIS_CUBLASLT_PATH, LD_LIBRARY_PATH, the linker cache, CUDA toolkits, Python
 * site-packages (nvidia-cublas wheels, PyTorch), then ovis-image's own cache (`setup cuda`).
 * Every file looked at is kept, so `doctor` and the refusals can list them.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { libraryVersion } from './library-version.js';
import { linkerCacheDirs } from './linker-cache.js';
import { CUBLASLT_12, CUBLASLT_13, cublasCacheDir, siteLibDirs, toolkitLibDirs, type Candidate, type CublasPlace } from './places.js';

export interface CublasLookup {
  place: CublasPlace;
  file: string;
  found: boolean;
}

export interface CublasLtFile {
  file: string;
  /** e.g. '13.1.1.3'; undefined when neither the file name nor a wheel or setup record says. */
  version: string | undefined;
  place: CublasPlace;
}

export interface CublasSearch {
  /** The libcublasLt.so.13 the addon will load, if any. */
  found: CublasLtFile | undefined;
  /** Every file looked at, in order (up to the one found). */
  looked: CublasLookup[];
  /** CUDA 12's libcublasLt.so.12 files seen in the same places (only searched when no .so.13 was found). */
  cuda12: string[];
}

export interface FindOptions {
  env?: NodeJS.ProcessEnv;
  /** Replaces `ldconfig -p` (tests). */
  linkerDirs?: (names: readonly string[]) => Promise<string[]>;
  /** Replaces '/' below which the system's toolkits and site-packages are looked for (tests). */
  root?: string;
}

async function isFile(file: string): Promise<boolean> {
  return stat(file).then((s) => s.isFile(), () => false);
}

function splitPathList(value: string | undefined): string[] {
  return (value ?? '').split(':').filter((d) => d !== '');
}

async function overrideCandidates(value: string | undefined): Promise<Candidate[]> {
  if (!value) return [];
  const isDir = await stat(value).then((s) => s.isDirectory(), () => false);
  const p = path.resolve(value);
  return [isDir ? { place: 'OVIS_CUBLASLT_PATH', dir: p } : { place: 'OVIS_CUBLASLT_PATH', dir: path.dirname(p), file: p }];
}

/** Every place, in search order. */
export async function cublasCandidates(options: FindOptions = {}): Promise<Candidate[]> {
  const env = options.env ?? process.env;
  const linker = await (options.linkerDirs ?? linkerCacheDirs)([CUBLASLT_13, CUBLASLT_12]);
  const tag = (place: CublasPlace, dirs: string[]): Candidate[] => dirs.map((dir) => ({ place, dir }));
  return [
    ...(await overrideCandidates(env.OVIS_CUBLASLT_PATH)),
    ...tag('LD_LIBRARY_PATH', splitPathList(env.LD_LIBRARY_PATH)),
    ...tag('linker cache', linker),
    ...tag('CUDA toolkit', await toolkitLibDirs(env, options.root)),
    ...tag('Python site-packages', await siteLibDirs(env, options.root)),
    ...tag('ovis-image cache', [cublasCacheDir(env)]),
  ];
}

export async function findCublasLt(options: FindOptions = {}): Promise<CublasSearch> {
  const candidates = await cublasCandidates(options);
  const looked: CublasLookup[] = [];
  for (const c of candidates) {
    const file = c.file ?? path.join(c.dir, CUBLASLT_13);
    const found = await isFile(file);
    looked.push({ place: c.place, file, found });
    if (found) return { found: { file, version: await libraryVersion(file), place: c.place }, looked, cuda12: [] };
  }
  const cuda12: string[] = [];
  for (const c of candidates) {
    const file = path.join(c.dir, CUBLASLT_12);
    if (!cuda12.includes(file) && (await isFile(file))) cuda12.push(file);
  }
  return { found: undefined, looked, cuda12 };
}

/** What to do when cuBLASLt 13 is missing, in one sentence. */
export const CUBLAS_FIX =
  'run `ovis-image setup cuda` (downloads NVIDIA\'s cuBLAS for CUDA 13 into the ovis-image cache), or `pip install nvidia-cublas`, ' +
  'or install the CUDA 13 toolkit, or set OVIS_CUBLASLT_PATH to a libcublasLt.so.13';

/** Why CUDA cannot run without cuBLASLt 13: CUDA 12's copies when found, the places looked, the fix. */
export function cublasMissingReason(search: CublasSearch): string {
  const old = search.cuda12.length
    ? `only CUDA 12's cuBLAS was found (${search.cuda12.join(', ')}), but this build needs CUDA 13's ${CUBLASLT_13}`
    : `${CUBLASLT_13} (cuBLASLt of CUDA 13) was not found`;
  const places = [...new Set(search.looked.map((l) => path.dirname(l.file)))];
  return `${old} (looked in ${places.length} places: ${places.join(', ')}); ${CUBLAS_FIX}`;
}
