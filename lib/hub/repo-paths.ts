import { OvisError } from '../errors.js';

/** Why a path from a repo listing cannot name a file inside the snapshot folder, or undefined when it can. */
export function unsafeRepoPathReason(path: string): string | undefined {
  if (path === '') return 'it is empty';
  if (path.startsWith('/')) return 'it is an absolute path';
  if (path.includes('\0')) return 'it contains a NUL character';
  if (path.includes('\\')) return 'it contains a backslash, a folder separator on Windows';
  const segments = path.split('/');
  if (segments.includes('')) return 'it has an empty path segment';
  const dots = segments.find((s) => s === '.' || s === '..');
  return dots === undefined ? undefined : `it has a "${dots}" segment, which would leave its folder`;
}

/**
 * Refuses a listing that names a path outside the snapshot. Git cannot store such names, so a listing
 * with one comes from a broken or hostile server: nothing of it is trusted, used or not.
 */
export function assertSafeRepoPaths(listing: readonly string[], where: string): void {
  for (const path of listing) {
    const reason = unsafeRepoPathReason(path);
    if (reason === undefined) continue;
    throw new OvisError(
      'HUB_BAD_RESPONSE',
      `The file list of ${where} has the entry ${JSON.stringify(path)}, which cannot be a file in the model folder: ${reason}. Nothing was downloaded; check HF_ENDPOINT or the repo.`,
    );
  }
}
