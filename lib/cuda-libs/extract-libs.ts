/**
 * Takes the cuBLAS libraries out of the nvidia-cublas wheel (a zip) with yauzl: only the files the
 * engine loads (libcublasLt.so.13, libcublas.so.13 under nvidia/cu13/lib/), nothing else.
 */
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import { OvisError } from '../errors.js';
import { CUBLAS_LIBRARIES } from './places.js';

function wanted(entryName: string): boolean {
  return /^nvidia\/cu13\/lib\/[^/]+$/.test(entryName) && (CUBLAS_LIBRARIES as readonly string[]).includes(path.posix.basename(entryName));
}

/** Extracts into `dir` (which must exist); resolves to the files written. Throws when one is missing. */
export async function extractCublas(wheel: string, dir: string): Promise<string[]> {
  const zip = await yauzl.openPromise(wheel, { lazyEntries: true, validateEntrySizes: true });
  const written: string[] = [];
  try {
    for await (const entry of zip.eachEntry()) {
      if (!wanted(entry.fileName)) continue;
      const out = path.join(dir, path.posix.basename(entry.fileName));
      await pipeline(await zip.openReadStreamPromise(entry), createWriteStream(out, { mode: 0o755 }));
      written.push(out);
    }
  } finally {
    zip.close();
  }
  const missing = CUBLAS_LIBRARIES.filter((name) => !written.some((f) => path.basename(f) === name));
  if (missing.length) throw new OvisError('CUDA_SETUP_CORRUPT', `${wheel} has no nvidia/cu13/lib/${missing.join(', nvidia/cu13/lib/')}: not an nvidia-cublas 13 wheel`);
  return written;
}
