/**
 * Opening model files safely: only regular files (and links to them) are read, their size is known
 * before reading, and nothing can block (a FIFO would wait for a writer forever, /dev/zero never ends).
 */
import { constants as fsConstants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { ModelLoadError, type ModelLoadErrorCode } from '../errors.js';
import type { FileIdentity } from './types.js';

/** Config files, tokenizer configs and chat templates are small; tokenizer.json is ~11 MB. */
export const MAX_TEXT_FILE_BYTES = 64 * 1024 * 1024;

export interface OpenedFile {
  handle: FileHandle;
  size: number;
  identity: FileIdentity;
}

function kindOf(s: { isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  if (s.isDirectory()) return 'a folder';
  if (s.isFIFO()) return 'a FIFO (named pipe)';
  if (s.isCharacterDevice() || s.isBlockDevice()) return 'a device';
  if (s.isSocket()) return 'a socket';
  return 'something else';
}

/**
 * Opens `file` without blocking and checks (on the open handle, so the answer cannot change under
 * us) that it is a regular file of at most `maxBytes`. `missingCode` is the code of a file that
 * cannot be opened at all.
 */
export async function openRegularFile(file: string, maxBytes: number, missingCode: ModelLoadErrorCode = 'MODEL_NOT_FOUND'): Promise<OpenedFile> {
  let handle: FileHandle;
  try {
    handle = await open(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (err) {
    throw new ModelLoadError(missingCode, `${file}: cannot open: ${(err as Error).message}`, { file });
  }
  try {
    const s = await handle.stat({ bigint: true });
    if (!s.isFile()) throw new ModelLoadError('MODEL_BAD_FILE', `${file}: not a regular file: it is ${kindOf(s)} (only regular files and links to them are read)`, { file });
    if (s.size > BigInt(maxBytes)) {
      throw new ModelLoadError('MODEL_BAD_FILE', `${file}: ${s.size} bytes is more than the ${maxBytes} such a file can have`, { file });
    }
    return { handle, size: Number(s.size), identity: { size: s.size, mtimeNs: s.mtimeNs, dev: s.dev, ino: s.ino } };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/** Reads a whole regular file of at most `maxBytes` (configs, tokenizer files). */
export async function readRegularFile(file: string, maxBytes = MAX_TEXT_FILE_BYTES, missingCode: ModelLoadErrorCode = 'MODEL_NOT_FOUND'): Promise<Buffer> {
  const { handle, size } = await openRegularFile(file, maxBytes, missingCode);
  try {
    const out = Buffer.alloc(size);
    let done = 0;
    while (done < size) {
      const { bytesRead } = await handle.read(out, done, size - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    if (done !== size) throw new ModelLoadError('MODEL_BAD_FILE', `${file}: shrank while being read (${done} of ${size} bytes)`, { file });
    return out;
  } finally {
    await handle.close();
  }
}

/** Checks that an existing path is a regular file of at most `maxBytes`, reading nothing. */
export async function checkRegularFile(file: string, maxBytes = MAX_TEXT_FILE_BYTES): Promise<void> {
  const { handle } = await openRegularFile(file, maxBytes);
  await handle.close();
}
