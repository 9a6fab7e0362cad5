import { OvisError } from '../errors.js';

/** Turns a failed cache write into an error that says how to get the space or the permission. */
export function cacheWriteError(err: unknown, path: string, cacheDir: string): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new OvisError(
      'HUB_DISK_FULL',
      `The disk is full while writing ${path}. Free some space, or point HF_HUB_CACHE (or --cache-dir) at a ` +
        `bigger disk than ${cacheDir}, then run again: the partial download resumes.`,
      { cause: err },
    );
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new OvisError(
      'HUB_CACHE_ACCESS',
      `Cannot write ${path} (${code}). Make ${cacheDir} writable, or set HF_HUB_CACHE (or --cache-dir) to a folder you can write.`,
      { cause: err },
    );
  }
  return err;
}
