import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OvisError } from '../lib/errors.js';
import { downloadModel, type DownloadProgress } from '../lib/hub/index.js';
import { FakeHub } from './helpers/hub-server.js';
import { isolatedHubEnv, isRelativeSymlink, listTree } from './helpers/hub-test-env.js';

const TINY = 'test/fixtures/golden/tiny-diffusers';
const REPO = 'AIDC-AI/Ovis-Image-7B';
const EXTRA = {
  'README.md': '# model card',
  'assets/demo.png': 'not really a png',
  'transformer/diffusion_pytorch_model.bin': 'pickled weights we must not fetch',
  'text_encoder/pytorch_model.bin': 'pickled weights we must not fetch',
};

let hub: FakeHub;
let env: ReturnType<typeof isolatedHubEnv>;
let cacheDir: string;

beforeEach(async () => {
  env = isolatedHubEnv();
  cacheDir = env.cacheDir;
  hub = new FakeHub([
    { id: REPO, dir: TINY, extraFiles: EXTRA },
    { id: 'gated/model', dir: TINY, gated: true },
  ]);
  hub.tokens.add('hf_good');
  await hub.start();
  vi.stubEnv('HF_ENDPOINT', hub.url);
});

afterEach(async () => {
  await hub.close();
  env.cleanup();
});

const sha256 = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');
const repoRoot = (): string => join(cacheDir, 'models--AIDC-AI--Ovis-Image-7B');
const blobOf = (path: string): string => {
  const f = hub.fileOf(REPO, path);
  return join(repoRoot(), 'blobs', f.lfs ? f.sha256 : f.gitOid);
};

async function expectOvisError(p: Promise<unknown>, code: string): Promise<OvisError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OvisError);
  expect((err as OvisError).code).toBe(code);
  return err as OvisError;
}

function expectSnapshotMatchesFixture(dir: string): void {
  expect(listTree(dir)).toEqual(listTree(TINY));
  for (const rel of listTree(TINY)) {
    expect(sha256(join(dir, rel)), rel).toBe(sha256(join(TINY, rel)));
    expect(isRelativeSymlink(join(dir, rel)), rel).toBe(true);
  }
}

describe('downloadModel against a local fake Hub', () => {
  it('downloads only the needed files into the Python cache layout', async () => {
    const events: DownloadProgress[] = [];
    const dir = await downloadModel(REPO, { cacheDir, onProgress: (p) => events.push(p) });
    const commit = hub.commitOf(REPO);
    expect(dir).toBe(join(repoRoot(), 'snapshots', commit));
    expectSnapshotMatchesFixture(dir);
    expect(readFileSync(join(repoRoot(), 'refs', 'main'), 'utf8')).toBe(commit);
    // Blobs named like huggingface_hub names them: sha256 for LFS files, git oid for the others.
    const link = readlinkSync(join(dir, 'transformer', 'diffusion_pytorch_model.safetensors'));
    expect(link).toBe(`../../../blobs/${hub.fileOf(REPO, 'transformer/diffusion_pytorch_model.safetensors').sha256}`);
    expect(readlinkSync(join(dir, 'model_index.json'))).toBe(`../../blobs/${hub.fileOf(REPO, 'model_index.json').gitOid}`);
    expect(readdirSync(join(repoRoot(), 'blobs')).some((n) => n.endsWith('.incomplete'))).toBe(false);
    // Skipped files were never requested.
    expect(hub.requests.some((r) => /README|demo\.png|\.bin$/.test(r.url))).toBe(false);
    // Progress: per file and overall, ending at the total.
    const total = listTree(TINY).reduce((s, rel) => s + readFileSync(join(TINY, rel)).length, 0);
    const last = events.at(-1) as DownloadProgress;
    expect(last.total).toBe(total);
    expect(last.bytes).toBe(total);
    expect(last.filesDone).toBe(last.filesTotal);
    expect(new Set(events.map((e) => e.file)).size).toBe(listTree(TINY).length);
    expect(events.every((e) => e.fileBytes <= e.fileTotal && e.bytes <= e.total)).toBe(true);
  });

  it('uses a complete cache without any network request', async () => {
    const first = await downloadModel(REPO, { cacheDir });
    const before = hub.requests.length;
    expect(await downloadModel(REPO, { cacheDir })).toBe(first);
    expect(await downloadModel(`${REPO}@${hub.commitOf(REPO)}`, { cacheDir })).toBe(first);
    expect(hub.requests.length).toBe(before);
  });

  it('honours HF_HUB_CACHE and HF_HOME for the cache folder', async () => {
    vi.stubEnv('HF_HOME', join(cacheDir, 'home'));
    const viaHome = await downloadModel(REPO);
    expect(viaHome.startsWith(join(cacheDir, 'home', 'hub', 'models--AIDC-AI--Ovis-Image-7B'))).toBe(true);
    vi.stubEnv('HF_HUB_CACHE', join(cacheDir, 'explicit'));
    expect((await downloadModel(REPO)).startsWith(join(cacheDir, 'explicit', 'models--AIDC-AI--Ovis-Image-7B'))).toBe(true);
  });

  it('resumes a dropped download with a Range request and ends byte-identical', async () => {
    const file = 'text_encoder/model.safetensors';
    hub.dropAfter.set(file, 1_000_000);
    await expectOvisError(downloadModel(REPO, { cacheDir, retries: 0 }), 'HUB_NETWORK');
    const partial = `${blobOf(file)}.incomplete`;
    const partialSize = readFileSync(partial).length;
    expect(partialSize).toBeGreaterThan(0);
    expect(partialSize).toBeLessThanOrEqual(1_000_000);
    expect(existsSync(blobOf(file))).toBe(false);
    expect(existsSync(join(repoRoot(), 'snapshots', hub.commitOf(REPO), file))).toBe(false);

    const sent = hub.requests.length;
    const dir = await downloadModel(REPO, { cacheDir, retries: 0 });
    const gets = hub.requests.slice(sent).filter((r) => r.method === 'GET' && r.url.endsWith(hub.fileOf(REPO, file).sha256));
    expect(gets.map((r) => r.range)).toEqual([`bytes=${partialSize}-`]);
    expectSnapshotMatchesFixture(dir);
    expect(existsSync(partial)).toBe(false);
  });

  it('retries a dropped connection by itself, resuming where it stopped', async () => {
    const file = 'tokenizer/tokenizer.json';
    hub.dropAfter.set(file, 3_000_000);
    const dir = await downloadModel(REPO, { cacheDir, retries: 2, retryDelayMs: 1 });
    const ranges = hub.requests.filter((r) => r.method === 'GET' && r.url.endsWith(hub.fileOf(REPO, file).sha256)).map((r) => r.range);
    expect(ranges).toHaveLength(2);
    expect(ranges[0]).toBeUndefined();
    expect(ranges[1]).toMatch(/^bytes=\d+-$/);
    expectSnapshotMatchesFixture(dir);
  });

  it('restarts from zero when the server ignores Range', async () => {
    const file = 'vae/diffusion_pytorch_model.safetensors';
    hub.dropAfter.set(file, 500_000);
    await expectOvisError(downloadModel(REPO, { cacheDir, retries: 0 }), 'HUB_NETWORK');
    hub.ignoreRange = true;
    expectSnapshotMatchesFixture(await downloadModel(REPO, { cacheDir, retries: 0 }));
  });

  it('re-downloads a corrupt partial or a finished blob of the wrong size', async () => {
    const te = 'text_encoder/model.safetensors';
    const vae = 'vae/diffusion_pytorch_model.safetensors';
    const blobs = join(repoRoot(), 'blobs');
    // An .incomplete longer than the file, and one of the right length with wrong bytes.
    const { mkdirSync } = await import('node:fs');
    mkdirSync(blobs, { recursive: true });
    writeFileSync(`${blobOf(te)}.incomplete`, Buffer.alloc(hub.fileOf(REPO, te).data.length + 100, 7));
    writeFileSync(`${blobOf(vae)}.incomplete`, Buffer.alloc(hub.fileOf(REPO, vae).data.length, 7));
    const dir = await downloadModel(REPO, { cacheDir, retries: 1, retryDelayMs: 1 });
    expectSnapshotMatchesFixture(dir);

    // A finished blob cut short is noticed from the cache alone and fetched again.
    truncateSync(blobOf('transformer/diffusion_pytorch_model.safetensors'), 1000);
    expectSnapshotMatchesFixture(await downloadModel(REPO, { cacheDir }));
  });

  it('gives HUB_DISK_FULL on ENOSPC and leaves nothing that looks complete', async () => {
    const file = 'transformer/diffusion_pytorch_model.safetensors';
    const beforeWrite = (f: string, offset: number): void => {
      if (f === file && offset > 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    };
    const err = await expectOvisError(downloadModel(REPO, { cacheDir, beforeWrite, concurrency: 1 }), 'HUB_DISK_FULL');
    expect(err.message).toMatch(/HF_HUB_CACHE/);
    expect(existsSync(blobOf(file))).toBe(false);
    expect(existsSync(join(repoRoot(), 'snapshots', hub.commitOf(REPO), file))).toBe(false);
    // Space freed: the next run finishes.
    expectSnapshotMatchesFixture(await downloadModel(REPO, { cacheDir }));
  });

  it('names a repo that does not exist, and a revision that does not exist', async () => {
    const err = await expectOvisError(downloadModel('nobody/no-such-model', { cacheDir }), 'HUB_NOT_FOUND');
    expect(err.message).toMatch(/nobody\/no-such-model/);
    expect(err.message).toMatch(/HF_TOKEN/);
    const rev = await expectOvisError(downloadModel(`${REPO}@v9`, { cacheDir }), 'HUB_REVISION_NOT_FOUND');
    expect(rev.message).toMatch(/"v9"/);
  });

  it('asks for HF_TOKEN on a gated repo, and succeeds with it', async () => {
    const err = await expectOvisError(downloadModel('gated/model', { cacheDir }), 'HUB_GATED');
    expect(err.message).toMatch(/HF_TOKEN/);
    expect(err.message).toMatch(/licence/);
    vi.stubEnv('HF_TOKEN', 'hf_wrong');
    await expectOvisError(downloadModel('gated/model', { cacheDir }), 'HUB_GATED');
    vi.stubEnv('HF_TOKEN', 'hf_good');
    const dir = await downloadModel('gated/model', { cacheDir });
    expectSnapshotMatchesFixture(dir);
    expect(hub.requests.filter((r) => r.url.startsWith('/gated/')).at(-1)?.authorization).toBe('Bearer hf_good');
  });

  it('works offline from a complete cache and names missing files otherwise', async () => {
    vi.stubEnv('HF_HUB_OFFLINE', '1');
    const none = await expectOvisError(downloadModel(REPO, { cacheDir }), 'HUB_OFFLINE_MISSING');
    expect(none.message).toMatch(/no cached copy/);
    vi.stubEnv('HF_HUB_OFFLINE', '');
    const dir = await downloadModel(REPO, { cacheDir });
    await hub.close();
    vi.stubEnv('HF_HUB_OFFLINE', '1');
    expect(await downloadModel(REPO, { cacheDir })).toBe(dir);
    rmSync(join(dir, 'vae', 'diffusion_pytorch_model.safetensors'));
    rmSync(join(dir, 'tokenizer', 'tokenizer_config.json'));
    const err = await expectOvisError(downloadModel(REPO, { cacheDir }), 'HUB_OFFLINE_MISSING');
    expect(err.message).toContain('vae/diffusion_pytorch_model.safetensors');
    expect(err.message).toContain('tokenizer/tokenizer_config.json');
    await hub.start(); // afterEach closes it again
  });

  it('reports an unreachable Hub as HUB_NETWORK', async () => {
    const url = hub.url;
    await hub.close();
    const err = await expectOvisError(downloadModel(REPO, { cacheDir, endpoint: url }), 'HUB_NETWORK');
    expect(err.message).toMatch(/HF_HUB_OFFLINE/);
    await hub.start();
  });

  it('stops on abort and keeps the partial file for later', async () => {
    const controller = new AbortController();
    const p = downloadModel(REPO, {
      cacheDir,
      signal: controller.signal,
      onProgress: (e) => {
        if (e.bytes > 2_000_000) controller.abort();
      },
    });
    await expectOvisError(p, 'ABORT_ERR');
    expectSnapshotMatchesFixture(await downloadModel(REPO, { cacheDir }));
  });
});

describe('downloadModel with the official layout', () => {
  it('fetches ovis_image.safetensors, ae.safetensors and Ovis2.5-2B/', async () => {
    const official = new FakeHub([{ id: 'AIDC-AI/Ovis-Image-official', dir: 'test/fixtures/golden/tiny-original', extraFiles: { 'README.md': 'x' } }]);
    await official.start();
    try {
      const dir = await downloadModel('AIDC-AI/Ovis-Image-official', { cacheDir, endpoint: official.url });
      expect(listTree(dir)).toEqual(listTree('test/fixtures/golden/tiny-original'));
    } finally {
      await official.close();
    }
  });

  it('rejects a repo that is no Ovis-Image checkpoint', async () => {
    const other = new FakeHub([{ id: 'someone/other', dir: 'test/fixtures/golden/scheduler' }]);
    await other.start();
    try {
      await expectOvisError(downloadModel('someone/other', { cacheDir, endpoint: other.url }), 'MODEL_UNKNOWN_LAYOUT');
    } finally {
      await other.close();
    }
  });
});
