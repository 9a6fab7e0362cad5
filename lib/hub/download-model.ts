import { stat } from 'node:fs/promises';
import { AbortError, OvisError } from '../errors.js';
import { downloadBlob, type BlobJob } from './blob-download.js';
import { COMMIT_HASH, RepoCache } from './cache-layout.js';
import { ensureFreeSpace } from './disk-space.js';
import { selectModelFiles } from './file-selection.js';
import { withFileLock } from './file-lock.js';
import { fetchFileMetadata, resolveUrl, type FileMetadata } from './file-metadata.js';
import { cacheWriteError } from './fs-errors.js';
import { type RequestContext } from './http.js';
import { parseHubModelIdOrThrow } from './model-id.js';
import { runPool } from './pool.js';
import { ProgressTracker, type ProgressCallback } from './progress.js';
import { fetchRevisionInfo } from './repo-info.js';
import { assertSafeRepoPaths } from './repo-paths.js';
import { resolveHubSettings, type HubSettings } from './settings.js';
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

/** One download: where it goes, how to reach the Hub, and what the cache already holds. */
interface DownloadRun {
  ctx: RequestContext;
  settings: HubSettings;
  cache: RepoCache;
  cachedCommit: string | undefined;
  cachedReport: SnapshotReport | undefined;
  options: DownloadModelOptions;
}

function offlineError(run: DownloadRun): OvisError {
  const { repoId, revision } = run.ctx;
  const where = `${repoId}@${revision} in ${run.settings.cacheDir}`;
  const fix = `Unset HF_HUB_OFFLINE and run \`ovis-image download ${repoId}${revision === 'main' ? '' : ` --revision ${revision}`}\` to fetch them.`;
  return new OvisError(
    'HUB_OFFLINE_MISSING',
    run.cachedCommit && run.cachedReport
      ? `HF_HUB_OFFLINE is set and the cached copy of ${where} is not complete (${describeGaps(run.cachedReport)}). ${fix}`
      : `HF_HUB_OFFLINE is set and there is no cached copy of ${where}. ${fix}`,
  );
}

/** Asks the Hub for the commit and file list, and picks (and checks) the files the engine needs. */
async function resolveFiles(run: DownloadRun): Promise<{ commit: string; files: string[] } | undefined> {
  const { ctx, settings, cache } = run;
  let info;
  try {
    info = await fetchRevisionInfo(ctx, settings.token, run.options.signal);
  } catch (err) {
    // Like huggingface_hub: when the Hub cannot be reached, a complete cached copy is good enough.
    if (err instanceof OvisError && err.code === 'HUB_NETWORK' && run.cachedCommit && run.cachedReport && isSnapshotComplete(run.cachedReport)) return undefined;
    throw err;
  }
  const where = `${ctx.repoId}@${ctx.revision}`;
  assertSafeRepoPaths(info.paths, where);
  const selection = selectModelFiles(info.paths);
  if (!selection) {
    throw new OvisError(
      'MODEL_UNKNOWN_LAYOUT',
      `${where} is not an Ovis-Image checkpoint: it has neither model_index.json (diffusers layout) nor ovis_image.safetensors (official layout).`,
    );
  }
  try {
    await cache.writeRef(ctx.revision, info.commit);
  } catch (err) {
    throw cacheWriteError(err, cache.refPath(ctx.revision), settings.cacheDir);
  }
  return { commit: info.commit, files: selection.files };
}

/** Paths sharing one blob (same etag) are downloaded once and linked from every path. */
function groupByEtag(files: readonly string[], metas: Map<string, FileMetadata>): Map<string, string[]> {
  const byEtag = new Map<string, string[]>();
  for (const file of files) {
    const etag = (metas.get(file) as FileMetadata).etag;
    byEtag.set(etag, [...(byEtag.get(etag) ?? []), file]);
  }
  return byEtag;
}

/** Bytes of every blob, and bytes still to fetch (what is neither a finished blob nor a partial file). */
async function measure(cache: RepoCache, byEtag: Map<string, string[]>, metas: Map<string, FileMetadata>): Promise<{ total: number; remaining: number }> {
  const sizeOnDisk = async (p: string): Promise<number> => (await stat(p).catch(() => undefined))?.size ?? 0;
  let total = 0;
  let remaining = 0;
  for (const [etag, files] of byEtag) {
    const size = (metas.get(files[0] as string) as FileMetadata).size;
    total += size;
    const have = (await sizeOnDisk(cache.blobPath(etag))) === size ? size : await sizeOnDisk(cache.incompletePath(etag));
    remaining += Math.max(0, size - have);
  }
  return { total, remaining };
}

/** One blob to fetch: its name, the repo paths that share it, and whether the cached copy failed its check. */
interface BlobTask {
  commit: string;
  etag: string;
  files: string[];
  meta: FileMetadata;
  refetch: boolean;
}

/**
 * Brings one blob into the cache and links every path that uses it, holding the blob's lock as
 * huggingface_hub does: a second process (ours or Python's) waits, then finds the blob finished.
 */
async function fetchBlob(run: DownloadRun, task: BlobTask, tracker: ProgressTracker, signal: AbortSignal): Promise<void> {
  const { ctx, settings, cache, options } = run;
  const { commit, etag, files, meta, refetch } = task;
  const file = files[0] as string;
  const job: BlobJob = {
    ctx: { ...ctx, revision: commit, file },
    url: resolveUrl(settings.endpoint, ctx.repoId, commit, file),
    etag,
    size: meta.size,
    blobPath: cache.blobPath(etag),
    incompletePath: cache.incompletePath(etag),
    cacheDir: settings.cacheDir,
    refetch,
  };
  const locked = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await withFileLock(cache.lockPath(etag), signal, work);
    } catch (err) {
      if (signal.aborted) throw new AbortError(`Download of ${ctx.repoId} was aborted`, { cause: err });
      throw cacheWriteError(err, cache.lockPath(etag), settings.cacheDir);
    }
  };
  await locked(async () => {
    await downloadBlob(job, {
      token: settings.token,
      signal,
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
  });
  tracker.fileDone(file, meta.size);
}

/** Metadata of every file first, so the progress total and the free-space check cover them all; then the blobs. */
async function fetchFiles(run: DownloadRun, commit: string, files: string[]): Promise<void> {
  const { ctx, settings, cache, options } = run;
  const signal = options.signal;
  const metas = new Map<string, FileMetadata>();
  const abort = new AbortController();
  const onUserAbort = (): void => abort.abort(signal?.reason);
  signal?.addEventListener('abort', onUserAbort, { once: true });
  try {
    await runPool(files, 8, abort, async (file) => {
      metas.set(file, await fetchFileMetadata({ ...ctx, revision: commit, file }, settings.token, abort.signal));
    });
    if (signal?.aborted) throw new AbortError(`Download of ${ctx.repoId} was aborted`);
    const byEtag = groupByEtag(files, metas);
    const { total, remaining } = await measure(cache, byEtag, metas);
    await ensureFreeSpace(settings.cacheDir, remaining);
    // What failed the snapshot check of this very commit is fetched again, so the cache heals itself.
    const suspect = new Set(run.cachedCommit === commit ? (run.cachedReport?.corrupt ?? []) : []);
    const tracker = new ProgressTracker(total, byEtag.size, options.onProgress);
    await runPool([...byEtag], options.concurrency ?? 4, abort, async ([etag, paths]) => {
      const meta = metas.get(paths[0] as string) as FileMetadata;
      await fetchBlob(run, { commit, etag, files: paths, meta, refetch: paths.some((p) => suspect.has(p)) }, tracker, abort.signal);
    });
  } finally {
    signal?.removeEventListener('abort', onUserAbort);
  }
}

/**
 * Makes the files the engine needs from a Hub model repo available in the Hugging Face cache (shared
 * with Python's huggingface_hub) and returns the snapshot folder. A complete cached copy is used
 * without any network request.
 */
export async function downloadModel(id: string, options: DownloadModelOptions = {}): Promise<string> {
  const ref = parseHubModelIdOrThrow(id);
  const revision = options.revision ?? ref.revision ?? 'main';
  const settings = resolveHubSettings(options);
  const cache = new RepoCache(settings.cacheDir, ref.repoId);
  const ctx: RequestContext = { endpoint: settings.endpoint, repoId: ref.repoId, revision, hasToken: !!settings.token };

  const cachedCommit = COMMIT_HASH.test(revision) ? revision : await cache.readRef(revision);
  const cachedReport = cachedCommit ? await checkSnapshot(cache.snapshotDir(cachedCommit)) : undefined;
  const run: DownloadRun = { ctx, settings, cache, cachedCommit, cachedReport, options };
  const cachedComplete = cachedReport !== undefined && isSnapshotComplete(cachedReport);
  if (cachedCommit && cachedComplete && (!options.refresh || settings.offline)) return cache.snapshotDir(cachedCommit);
  if (settings.offline) throw offlineError(run);

  const resolved = await resolveFiles(run);
  if (!resolved) return cache.snapshotDir(cachedCommit as string);
  await fetchFiles(run, resolved.commit, resolved.files);
  return cache.snapshotDir(resolved.commit);
}
