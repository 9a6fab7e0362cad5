import { constants } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** The part of the optional `fs-ext` package used here: flock(2) on a file descriptor. */
interface FsExt {
  flockSync(fd: number, flags: 'exnb' | 'un'): void;
}

let fsExt: FsExt | null | undefined;

/**
 * `fs-ext` is an optional dependency (it is compiled at install, which needs a C++ toolchain): without it,
 * downloads still work, only without the lock that lets two processes share one cache.
 */
function loadFsExt(): FsExt | null {
  if (fsExt === undefined) {
    try {
      fsExt = createRequire(import.meta.url)('fs-ext') as FsExt;
    } catch {
      fsExt = null;
    }
  }
  return fsExt;
}

/** True when this process can take the flock-based locks Python's huggingface_hub understands. */
export function fileLocksAvailable(): boolean {
  return loadFsExt() !== null;
}

const POLL_MS = 100;
const CONTENDED = new Set(['EAGAIN', 'EWOULDBLOCK', 'EACCES']);

/** Polls a non-blocking flock, as Python's filelock does, so waiting never ties up a libuv thread. */
async function acquire(ext: FsExt, fd: number, signal: AbortSignal | undefined): Promise<void> {
  for (;;) {
    try {
      ext.flockSync(fd, 'exnb');
      return;
    } catch (err) {
      if (!CONTENDED.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
    }
    await sleep(POLL_MS, undefined, { signal });
  }
}

/**
 * Runs `work` holding an exclusive flock on `lockPath`, the way huggingface_hub guards a blob with
 * filelock (`<cache>/.locks/<repo folder>/<etag>.lock`, mode 0664, left in place afterwards), so that
 * our processes and Python's never write the same blob at once.
 */
export async function withFileLock<T>(lockPath: string, signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> {
  const ext = loadFsExt();
  if (ext === null) return work();
  await mkdir(dirname(lockPath), { recursive: true });
  const fh = await open(lockPath, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o664);
  try {
    await acquire(ext, fh.fd, signal);
    return await work();
  } finally {
    await fh.close(); // closing the descriptor releases the flock
  }
}
