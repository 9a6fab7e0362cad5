/**
 * Output files of `generate`: checked by really creating (and removing) each file before the model loads,
 * then written whole through a temporary file and a rename, so an error or Ctrl-C leaves no partial image.
 * Only regular files (new, existing, or reached through a link) are written; /dev/null discards.
 */
import { constants as fsConstants, type Stats } from 'node:fs';
import { lstat, open, realpath, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { OvisError } from '../errors.js';
import { imageFormatOf, type ImageFormat } from './image-format.js';
import { UsageError } from './usage-error.js';

export interface OutputTarget {
  /** Where the image goes (links resolved). */
  file: string;
  /** What stdout reports: the path as the user will find it. */
  shown: string;
  format: ImageFormat;
}

const DISCARD = '/dev/null';

/** out.png for one image; out-1.png ... out-K.png for K. */
export function outputPaths(output: string, count: number): string[] {
  const abs = path.resolve(output);
  if (count === 1) return [abs];
  const ext = path.extname(abs) || '.png';
  const stem = path.extname(abs) ? abs.slice(0, -ext.length) : abs;
  return Array.from({ length: count }, (_, i) => `${stem}-${i + 1}${ext}`);
}

/** Checks every output of `-o output` with `--count count`; throws before anything is loaded. */
export async function prepareOutputs(output: string, count: number): Promise<OutputTarget[]> {
  const abs = path.resolve(output);
  if (abs === DISCARD) return Array.from({ length: count }, () => ({ file: DISCARD, shown: DISCARD, format: 'png' }));
  const format = imageFormatOf(abs);
  // A special file given as -o is refused as such, not turned into special-1.png beside it.
  if (count > 1) refuseSpecial(abs, await statOutput(abs));
  const targets: OutputTarget[] = [];
  for (const file of outputPaths(abs, count)) targets.push({ file: await checkOutput(file), shown: file, format });
  return targets;
}

/** Writes the image; a failure is an error naming the path and the reason. */
export async function writeOutput(target: OutputTarget, bytes: Buffer): Promise<void> {
  if (target.file === DISCARD) return;
  const temp = tempName(target.file);
  try {
    await writeFile(temp, bytes, { flag: 'wx' });
    await rename(temp, target.file);
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw writeError(target.shown, err);
  }
}

function tempName(file: string): string {
  return path.join(path.dirname(file), `.ovis-image-${process.pid}-${Date.now().toString(36)}.tmp`);
}

function writeError(file: string, err: unknown, reason = describeFsError(err)): OvisError {
  return new OvisError('OVIS_BAD_ARGUMENT', `cannot write ${file}: ${reason}`, { cause: err });
}

/** Returns the file to write (a link's target); throws when it cannot be created and written. */
async function checkOutput(file: string): Promise<string> {
  const existing = await statOutput(file);
  if (existing?.isDirectory()) throw writeError(file, undefined, 'it is a folder');
  refuseSpecial(file, existing);
  const target = existing ? await realpath(file).catch((e: unknown) => Promise.reject(writeError(file, e))) : file;
  const dir = path.dirname(target);
  await checkFolder(file, dir);
  if (existing) await tryOpen(file, target, fsConstants.O_WRONLY, 'the file is not writable');
  // The rename in writeOutput needs a new file in the folder: make (and remove) one now.
  const temp = tempName(target);
  await tryOpen(file, temp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, `no permission to write in ${dir}`);
  await unlink(temp).catch(() => {});
  return target;
}

/** The file's stats (links followed); undefined when nothing of that name exists. */
async function statOutput(file: string): Promise<Stats | undefined> {
  const link = await lstat(file).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(writeError(file, e))));
  if (!link?.isSymbolicLink()) return link;
  return stat(file).catch((e: NodeJS.ErrnoException) => Promise.reject(linkError(file, e)));
}

/** FIFOs, devices and sockets are refused without opening them (opening a FIFO blocks). */
function refuseSpecial(file: string, st: Stats | undefined): void {
  if (st && !st.isFile() && !st.isDirectory()) {
    throw new UsageError(`-o ${file}: not a regular file (${specialKind(st)}); write the image to a file`);
  }
}

function linkError(file: string, err: NodeJS.ErrnoException): OvisError {
  if (err.code === 'ENOENT') return writeError(file, err, 'it is a link to a file that does not exist (dangling link)');
  return writeError(file, err);
}

async function checkFolder(file: string, dir: string): Promise<void> {
  const st = await stat(dir).catch((e: NodeJS.ErrnoException) =>
    Promise.reject(writeError(file, e, e.code === 'ENOENT' ? `the folder ${dir} does not exist` : describeFsError(e))),
  );
  if (!st.isDirectory()) throw writeError(file, undefined, `${dir} is not a folder`);
}

async function tryOpen(shown: string, file: string, flags: number, denied: string): Promise<void> {
  try {
    const handle = await open(file, flags, 0o644);
    await handle.close();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw writeError(shown, err, code === 'EACCES' || code === 'EPERM' ? denied : describeFsError(err, path.dirname(file)));
  }
}

function specialKind(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'a special file';
}

/** errno → words; the folder named when the error is about creating a file in it. */
function describeFsError(err: unknown, dir?: string): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      return dir ? `no permission to write in ${dir}` : 'permission denied';
    case 'ENOENT':
      return dir ? `files cannot be created in ${dir}` : 'no such file or folder';
    case 'EROFS':
      return 'the file system is read-only';
    case 'ENAMETOOLONG':
      return 'the file name is too long';
    case 'ELOOP':
      return 'too many levels of symbolic links (a link loop)';
    case 'ENOTDIR':
      return 'a part of the path is not a folder';
    case 'ENOSPC':
    case 'EDQUOT':
      return 'no space left on the device';
    case 'EISDIR':
      return 'it is a folder';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}
