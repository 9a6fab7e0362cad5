import { copyFile, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';

/**
 * Paths of one model repo inside a Hugging Face cache, laid out exactly like Python's huggingface_hub:
 *   models--owner--name/blobs/<etag>                  file contents, named by etag (sha256 for LFS files)
 *   models--owner--name/snapshots/<commit>/<path>     relative symlink to ../../blobs/<etag>
 *   models--owner--name/refs/<revision>               the commit hash a branch/tag pointed at
 *   .locks/models--owner--name/<etag>.lock            flock held while a blob is written
 */
export class RepoCache {
  readonly root: string;
  private readonly lockDir: string;
  constructor(cacheDir: string, repoId: string) {
    const folder = `models--${repoId.split('/').join('--')}`;
    this.root = join(cacheDir, folder);
    this.lockDir = join(cacheDir, '.locks', folder);
  }

  /** The lock huggingface_hub takes while it writes this blob: <cache>/.locks/<repo folder>/<etag>.lock. */
  lockPath(etag: string): string {
    return join(this.lockDir, `${etag}.lock`);
  }

  blobPath(etag: string): string {
    return join(this.root, 'blobs', etag);
  }

  /** Python's name for a blob being downloaded. */
  incompletePath(etag: string): string {
    return `${this.blobPath(etag)}.incomplete`;
  }

  snapshotDir(commit: string): string {
    return join(this.root, 'snapshots', commit);
  }

  pointerPath(commit: string, repoPath: string): string {
    return join(this.snapshotDir(commit), ...repoPath.split('/'));
  }

  refPath(revision: string): string {
    return join(this.root, 'refs', ...revision.split('/'));
  }

  /** Commit hash recorded for a branch or tag, or undefined if this cache never resolved it. */
  async readRef(revision: string): Promise<string | undefined> {
    try {
      const commit = (await readFile(this.refPath(revision), 'utf8')).trim();
      return COMMIT_HASH.test(commit) ? commit : undefined;
    } catch {
      return undefined;
    }
  }

  async writeRef(revision: string, commit: string): Promise<void> {
    if (revision === commit) return; // Python writes no ref for a revision that already is a commit
    const p = this.refPath(revision);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, commit);
  }

  /** Points snapshots/<commit>/<path> at the blob with a relative link (a copy where links are not allowed). */
  async linkPointer(commit: string, repoPath: string, etag: string): Promise<void> {
    const pointer = this.pointerPath(commit, repoPath);
    const blob = this.blobPath(etag);
    await mkdir(dirname(pointer), { recursive: true });
    await rm(pointer, { force: true });
    try {
      await symlink(relative(dirname(pointer), blob), pointer);
    } catch (err) {
      if (!isLinkUnsupported(err)) throw err;
      await copyFile(blob, pointer);
    }
  }
}

export const COMMIT_HASH = /^[0-9a-f]{40}$/;
export const SHA256_HEX = /^[0-9a-f]{64}$/;

function isLinkUnsupported(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP';
}
