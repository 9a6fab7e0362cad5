import { stat } from 'node:fs/promises';
import { AbortError, OvisError } from '../errors.js';
import { downloadBlob, type BlobJob } from './blob-download.js';
import { COMMIT_HASH, RepoCache } from './cache-layout.js';
import { ensureFreeSpace } from './disk-space.js';
import { selectModelFiles } from './file-selection.js';
import { fetchFileMetadata, resolveUrl, type FileMetadata } from './file-metadata.js';
import { cacheWriteError } from './fs-errors.js';
import { type RequestContext } from './http.js';
import { parseHubModelIdOrThrow } from './model-id.js';
import { ProgressTracker, type ProgressCallback } from './progress.js';
import { fetchRevisionInfo } from './repo-info.js';
import { resolveHubSettings } from './settings.js';
import { checkSnapshot, isSnapshotComplete, type SnapshotReport } from './snapshot-check.js';

export interface DownloadModelOptions {
  /** Branch, tag or commit; default the `@revision` in the id, else "main". */
  revision?: string | undefined;
  /** Hub cache folder; default $HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub. */
  cacheDir?: string | undefined;
  /** Access token; default $HF_TOKEN or the token `huggingface-cli login` saved. */
  token?: string | undefined;
  /** Hub URL; default $HF_ENDPOINT or https://huggingface.co. */
  endpoint?: string | undefined;
  /** Use the cache only; default $HF_HUB_OFFLINE. */
  offline?: boolean | undefined;
  /** Ask the Hub for the newest commit of the revision even when a complete copy is cached. */
  refresh?: boolean | undefined;
  onProgress?: ProgressCallback | undefined;
  signal?: AbortSignal | undefined;
  /** Attempts after a broken connection or a 5xx, each resuming the partial file (default 3). */
  retries?: number | undefined;
  retryDelayMs?: number | undefined;
  /** Files downloaded at once (default 4). */
  concurrency?: number | undefined;
  /** Test hook, see BlobDownloadOptions.beforeWrite. */
  beforeWrite?: ((file: string, offset: number, length: number) => void) | undefined;
}

function describeGaps(r: SnapshotReport): string {
  const parts: string[] = [];
  if (r.missing.length) parts.push(`missing: ${r.missing.join(', ')}`);
  if (r.corrupt.length) parts.push(`incomplete or corrupt: ${r.corrupt.join(', ')}`);
  return parts.join('; ');
}

/** Runs `work` on every item, at most `limit` at once; the first failure stops the rest and is rethrown. */
async function runPool<T>(items: readonly T[], limit: number, abort: AbortController, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let firstError: unknown;
  const worker = async (): Promise<void> => {
    while (next < items.length && firstError === undefined) {
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (err) {
        if (firstError === undefined) firstError = err;
        abort.abort(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (firstError !== undefined) throw firstError;
}

/**
 * Makes the files the engine needs from a Hub model repo available in the Hugging Face cache (shared
 * with Python's huggingface_hub) and returns the snapshot folder. A complete cached copy is used
 * without any network request.
 */
export async function downloadModel(id: string, options: DownloadModelOptions = {}): Promise<string> {
  const ref = parseHubModelIdOrThrow(id);
  const repoId = ref.repoId;
  const revision = options.revision ?? ref.revision ?? 'main';
  const settings = resolveHubSettings(options);
  const cache = new RepoCache(settings.cacheDir, repoId);
  const ctx: RequestContext = { endpoint: settings.endpoint, repoId, revision, hasToken: !!settings.token };

  const cachedCommit = COMMIT_HASH.test(revision) ? revision : await cache.readRef(revision);
  const cachedReport = cachedCommit ? await checkSnapshot(cache.snapshotDir(cachedCommit)) : undefined;
  const cachedComplete = cachedReport !== undefined && isSnapshotComplete(cachedReport);
  if (cachedCommit && cachedComplete && (!options.refresh || settings.offline)) return cache.snapshotDir(cachedCommit);
  if (settings.offline) {
    const where = `${repoId}@${revision} in ${settings.cacheDir}`;
    const fix = `Unset HF_HUB_OFFLINE and run \`ovis-image download ${repoId}${revision === 'main' ? '' : ` --revision ${revision}`}\` to fetch them.`;
    throw new OvisError(
      'HUB_OFFLINE_MISSING',
      cachedCommit && cachedReport
        ? `HF_HUB_OFFLINE is set and the cached copy of ${where} is not complete (${describeGaps(cachedReport)}). ${fix}`
        : `HF_HUB_OFFLINE is set and there is no cached copy of ${where}. ${fix}`,
    );
  }

  const signal = options.signal;
  let info;
  try {
    info = await fetchRevisionInfo(ctx, settings.token, signal);
  } catch (err) {
    // Like huggingface_hub: when the Hub cannot be reached, a complete cached copy is good enough.
    if (err instanceof OvisError && err.code === 'HUB_NETWORK' && cachedCommit && cachedComplete) return cache.snapshotDir(cachedCommit);
    throw err;
  }
  const selection = selectModelFiles(info.paths);
  if (!selection) {
    throw new OvisError(
      'MODEL_UNKNOWN_LAYOUT',
      `${repoId}@${revision} is not an Ovis-Image checkpoint: it has neither model_index.json (diffusers layout) nor ovis_image.safetensors (official layout).`,
    );
  }
  const commit = info.commit;
  try {
    await cache.writeRef(revision, commit);
  } catch (err) {
    throw cacheWriteError(err, cache.refPath(revision), settings.cacheDir);
  }

  // Metadata first, so the progress total and the free-space check cover every file.
  const metas = new Map<string, FileMetadata>();
  const abort = new AbortController();
  const onUserAbort = (): void => abort.abort(signal?.reason);
  signal?.addEventListener('abort', onUserAbort, { once: true });
  try {
    await runPool(selection.files, 8, abort, async (file) => {
      metas.set(file, await fetchFileMetadata({ ...ctx, revision: commit, file }, settings.token, abort.signal));
    });
    if (signal?.aborted) throw new AbortError(`Download of ${repoId} was aborted`);

    // Paths sharing one blob (same etag) are downloaded once and linked from every path.
    const byEtag = new Map<string, string[]>();
    for (const file of selection.files) {
      const etag = (metas.get(file) as FileMetadata).etag;
      byEtag.set(etag, [...(byEtag.get(etag) ?? []), file]);
    }
    const sizeOnDisk = async (p: string): Promise<number> => (await stat(p).catch(() => undefined))?.size ?? 0;
    let total = 0;
    let remaining = 0;
    for (const [etag, files] of byEtag) {
      const size = (metas.get(files[0] as string) as FileMetadata).size;
      total += size;
      const have = (await sizeOnDisk(cache.blobPath(etag))) === size ? size : await sizeOnDisk(cache.incompletePath(etag));
      remaining += Math.max(0, size - have);
    }
    await ensureFreeSpace(settings.cacheDir, remaining);

    const tracker = new ProgressTracker(total, byEtag.size, options.onProgress);
    await runPool([...byEtag], options.concurrency ?? 4, abort, async ([etag, files]) => {
      const file = files[0] as string;
      const meta = metas.get(file) as FileMetadata;
      const job: BlobJob = {
        ctx: { ...ctx, revision: commit, file },
        url: resolveUrl(settings.endpoint, repoId, commit, file),
        etag,
        size: meta.size,
        blobPath: cache.blobPath(etag),
        incompletePath: cache.incompletePath(etag),
        cacheDir: settings.cacheDir,
      };
      await downloadBlob(job, {
        token: settings.token,
        signal: abort.signal,
        retries: options.retries ?? 3,
        retryDelayMs: options.retryDelayMs ?? 1000,
        onBytes: (n) => tracker.update(file, meta.size, n),
        beforeWrite: options.beforeWrite,
      });
      for (const f of files) {
        try {
          await cache.linkPointer(commit, f, etag);
        } catch (err) {
          throw cacheWriteError(err, cache.pointerPath(commit, f), settings.cacheDir);
        }
      }
      tracker.fileDone(file, meta.size);
    });
  } finally {
    signal?.removeEventListener('abort', onUserAbort);
  }
  return cache.snapshotDir(commit);
}
