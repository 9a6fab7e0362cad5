import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { OvisError } from '../errors.js';

/** Free bytes on the disk holding `dir` (or its nearest existing parent); undefined when unknown. */
export async function freeBytes(dir: string): Promise<number | undefined> {
  for (let d = dir; ; d = dirname(d)) {
    try {
      const s = await statfs(d);
      return s.bavail * s.bsize;
    } catch {
      if (dirname(d) === d) return undefined;
    }
  }
}

/** Fails before downloading when the disk cannot hold what is left, instead of after hours of transfer. */
export async function ensureFreeSpace(cacheDir: string, needed: number): Promise<void> {
  const free = await freeBytes(cacheDir);
  if (free === undefined || free >= needed) return;
  const gib = (n: number): string => `${(n / 2 ** 30).toFixed(2)} GiB`;
  throw new OvisError(
    'HUB_DISK_FULL',
    `Not enough disk space in ${cacheDir}: the download needs ${gib(needed)} more, ${gib(free)} are free. ` +
      `Free some space or set HF_HUB_CACHE (or --cache-dir) to a bigger disk.`,
  );
}
