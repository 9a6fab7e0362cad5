/**
 * The places cuBLASLt is looked for, in order (issue 14; the C++ loader cuda/cublaslt_loader.cpp keeps
 * the same order as its fallback). Only folder names here: find-cublaslt.ts looks at the files.
 */
import os from 'node:os';
import path from 'node:path';
import { glob } from 'tinyglobby';

/** The library the CUDA addon loads, and CUDA 12's, which is reported when it is all there is. */
export const CUBLASLT_13 = 'libcublasLt.so.13';
export const CUBLASLT_12 = 'libcublasLt.so.12';
/** What `ovis-image setup cuda` extracts. */
export const CUBLAS_LIBRARIES = [CUBLASLT_13, 'libcublas.so.13'] as const;

export type CublasPlace = 'OVIS_CUBLASLT_PATH' | 'LD_LIBRARY_PATH' | 'linker cache' | 'CUDA toolkit' | 'Python site-packages' | 'ovis-image cache';

/** A folder to look in (or, for OVIS_CUBLASLT_PATH, possibly a file). */
export interface Candidate {
  place: CublasPlace;
  dir: string;
  /** OVIS_CUBLASLT_PATH may name the file itself. */
  file?: string;
}

/** ovis-image's own cache: $XDG_CACHE_HOME/ovis-image, else ~/.cache/ovis-image. */
export function ovisCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache'), 'ovis-image');
}

/** Where `setup cuda` puts the libraries. */
export function cublasCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(ovisCacheDir(env), 'cublas13');
}

/** The folders of a site-packages that can hold cuBLAS: the CUDA 13 wheel, the CUDA 12 wheel, PyTorch's copy. */
export const SITE_LIBRARY_DIRS = ['nvidia/cu13/lib', 'nvidia/cublas/lib', 'torch/lib'] as const;

/**
 * site-packages folder patterns: venvs named by the environment, then the user's, then the system's
 * (below `root`, '/' but for tests).
 */
export function sitePackagePatterns(env: NodeJS.ProcessEnv = process.env, root = '/'): string[] {
  const out: string[] = [];
  for (const prefix of [env.VIRTUAL_ENV, env.CONDA_PREFIX]) if (prefix) out.push(`${prefix}/lib/python3*/site-packages`);
  const home = env.HOME || os.homedir();
  out.push(`${home}/.local/lib/python3*/site-packages`, `${home}/.pyenv/versions/*/lib/python3*/site-packages`);
  for (const conda of ['miniconda3', 'anaconda3', 'miniforge3']) out.push(`${home}/${conda}/lib/python3*/site-packages`);
  const system = [
    'opt/conda/lib/python3*/site-packages',
    'usr/local/lib/python3*/dist-packages',
    'usr/local/lib/python3*/site-packages',
    'usr/lib/python3/dist-packages',
    'usr/lib/python3*/site-packages',
    'usr/lib64/python3*/site-packages',
  ];
  return [...out, ...system.map((p) => path.join(root, p))];
}

/** Folders matching a pattern with `*` in it, sorted (glob order is not stable). */
export async function expandDirs(pattern: string): Promise<string[]> {
  if (!pattern.includes('*')) return [pattern];
  const found = await glob(pattern, { onlyDirectories: true, absolute: true, expandDirectories: false });
  return found.map((d) => d.replace(/\/$/, '')).sort();
}

/** The CUDA toolkit folders: $CUDA_HOME, $CUDA_PATH, /usr/local/cuda, /usr/local/cuda-* (below `root`). */
export async function toolkitLibDirs(env: NodeJS.ProcessEnv = process.env, root = '/'): Promise<string[]> {
  const out: string[] = [];
  for (const v of [env.CUDA_HOME, env.CUDA_PATH]) if (v) out.push(path.join(v, 'lib64'), path.join(v, 'lib'));
  const local = path.join(root, 'usr', 'local');
  out.push(path.join(local, 'cuda', 'lib64'));
  for (const d of await expandDirs(`${local}/cuda-*`)) out.push(path.join(d, 'lib64'));
  return out;
}

/** Library folders inside every site-packages found. */
export async function siteLibDirs(env: NodeJS.ProcessEnv = process.env, root = '/'): Promise<string[]> {
  const out: string[] = [];
  for (const pattern of sitePackagePatterns(env, root)) {
    for (const site of await expandDirs(pattern)) for (const sub of SITE_LIBRARY_DIRS) out.push(path.join(site, sub));
  }
  return out;
}
