/**
 * The HF cache is shared with Python's huggingface_hub: a model downloaded by either must be reused by
 * the other. Both run here against the local fake Hub (test/helpers/hub-server.ts) and a temp cache.
 *
 * Needs python3 with huggingface_hub (scripts/ensure-python-hub.sh installs it; .ci/run calls it). Without
 * it these tests FAIL under CI (CI=true), so CI cannot pass without checking compatibility; on a developer's
 * machine they are skipped with a warning. OVIS_SKIP_PYTHON_TESTS=1 skips them everywhere.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { RepoCache } from '../lib/hub/cache-layout.js';
import { withFileLock } from '../lib/hub/file-lock.js';
import { normalizeEtag } from '../lib/hub/file-metadata.js';
import { downloadModel, resolveHubSettings } from '../lib/hub/index.js';
import { resolveModel } from '../lib/model/index.js';
import { FakeHub } from './helpers/hub-server.js';
import { isolatedHubEnv, isRelativeSymlink, listTree } from './helpers/hub-test-env.js';
import { TINY_DIFFUSERS } from './model-helpers.js';

const REPO = 'owner/tiny';
const EXTRA = {
  'README.md': '# model card',
  'assets/demo.png': 'not really a png',
  'transformer/diffusion_pytorch_model.bin': 'pickled weights nobody should fetch',
};
/** What ovis-image needs from a diffusers-layout repo, as huggingface_hub allow_patterns (fnmatch). */
const ALLOW_PATTERNS = [
  'model_index.json',
  'scheduler/*',
  'tokenizer/*',
  ...['text_encoder', 'transformer', 'vae'].flatMap((c) => [`${c}/config.json`, `${c}/*.safetensors`, `${c}/*.safetensors.index.json`]),
];
const SOME_FILES = ['model_index.json', 'tokenizer/tokenizer.json', 'transformer/diffusion_pytorch_model.safetensors', 'vae/config.json'];

/** One Python entry point; the operation and its arguments come as JSON in argv, the answer as JSON on stdout. */
const PY = String.raw`
import hashlib, json, sys
import huggingface_hub as hh
op, a = sys.argv[1], json.loads(sys.argv[2])
def sha(p):
    with open(p, 'rb') as f: return hashlib.sha256(f.read()).hexdigest()
if op == 'snapshot':
    print(json.dumps({'path': hh.snapshot_download(a['repo'], revision=a['revision'], allow_patterns=a['allow'], local_files_only=a['local'])}))
elif op == 'files':
    out = {}
    for f in a['files']:
        p = hh.hf_hub_download(a['repo'], f, revision=a['revision'], local_files_only=True)
        out[f] = {'path': p, 'sha256': sha(p)}
    print(json.dumps(out))
elif op == 'names':
    from huggingface_hub.file_download import _normalize_etag, repo_folder_name
    print(json.dumps({'etags': [_normalize_etag(e) for e in a['etags']],
                      'folders': [repo_folder_name(repo_id=r, repo_type='model') for r in a['repos']]}))
elif op == 'settings':
    from huggingface_hub import constants
    print(json.dumps({'cache': constants.HF_HUB_CACHE, 'token': hh.get_token(), 'offline': constants.HF_HUB_OFFLINE, 'endpoint': constants.ENDPOINT}))
elif op == 'hold_lock':
    import pathlib, time
    from huggingface_hub.utils import WeakFileLock
    pathlib.Path(a['lock']).parent.mkdir(parents=True, exist_ok=True)
    with WeakFileLock(a['lock']):
        open(a['marker'], 'w').close()
        time.sleep(a['seconds'])
        released = time.time()
    print(json.dumps({'released': released * 1000}))
elif op == 'scan':
    info = hh.scan_cache_dir(a['cache'])
    print(json.dumps({
        'warnings': [str(w) for w in info.warnings],
        'incomplete': sorted(str(f.file_path) for f in info.incomplete_files) if hasattr(info, 'incomplete_files') else None,
        'repos': [{
            'repo_id': r.repo_id, 'repo_type': r.repo_type, 'size_on_disk': r.size_on_disk, 'nb_files': r.nb_files,
            'revisions': [{'commit': v.commit_hash, 'refs': sorted(v.refs), 'nb_files': v.nb_files, 'size_on_disk': v.size_on_disk,
                           'files': sorted(str(f.file_path.relative_to(v.snapshot_path).as_posix()) for f in v.files)} for v in r.revisions],
        } for r in info.repos],
    }))
`;

interface PythonProbe {
  ok: boolean;
  detail: string;
}

function probePython(): PythonProbe {
  try {
    const out = execFileSync('python3', ['-c', 'import sys, huggingface_hub as h; print(f"Python {sys.version.split()[0]}, huggingface_hub {h.__version__}")'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
    return { ok: true, detail: out.trim() };
  } catch (err) {
    const e = err as { code?: string; stderr?: string };
    return { ok: false, detail: e.code === 'ENOENT' ? 'python3 is not on PATH' : (e.stderr ?? String(err)).trim().split('\n').at(-1) ?? 'unknown error' };
  }
}

const skipRequested = process.env['OVIS_SKIP_PYTHON_TESTS'] === '1';
const python = skipRequested ? { ok: false, detail: 'skipped' } : probePython();
const inCi = process.env['CI'] === 'true' || process.env['CI'] === '1';
const skip = skipRequested || (!python.ok && !inCi);
if (skip && !skipRequested) {
  console.warn(`hub-python-compat: skipped (${python.detail}); run scripts/ensure-python-hub.sh to include it`);
}

let hub: FakeHub;
let env: ReturnType<typeof isolatedHubEnv>;
let cacheDir: string;

/** Runs PY asynchronously (the fake Hub answers from this process's event loop) with the test's Hub and cache. */
async function py<T>(op: string, args: object, extraEnv: Record<string, string | undefined> = {}): Promise<T> {
  // No proxy, and no HF setting of the developer's (an empty HF_TOKEN_PATH would mean "." to Python).
  const childEnv: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/_proxy$/i.test(k) && !/^(HF_|HUGGING|TRANSFORMERS_)/.test(k)) childEnv[k] = v;
  }
  Object.assign(childEnv, {
    HF_ENDPOINT: hub.url,
    HF_HUB_CACHE: cacheDir,
    HF_HOME: join(cacheDir, '..', 'hf-home'),
    HF_HUB_DISABLE_TELEMETRY: '1',
    HF_HUB_DISABLE_PROGRESS_BARS: '1',
    NO_PROXY: '*',
    ...extraEnv,
  });
  for (const [k, v] of Object.entries(childEnv)) if (v === undefined) delete childEnv[k];
  try {
    const { stdout } = await promisify(execFile)('python3', ['-c', PY, op, JSON.stringify(args)], { env: childEnv, timeout: 90_000, maxBuffer: 16 << 20 });
    return JSON.parse(stdout) as T;
  } catch (err) {
    const e = err as { stderr?: string; message?: string };
    throw new Error(`python ${op} failed: ${e.stderr || e.message}`, { cause: err });
  }
}

const sha256 = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');
const repoRoot = (): string => join(cacheDir, 'models--owner--tiny');
const snapshotDir = (): string => join(repoRoot(), 'snapshots', hub.commitOf(REPO));
/** The blob name both sides must agree on: sha256 for LFS files, git blob oid for the others. */
const blobName = (file: string): string => (hub.fileOf(REPO, file).lfs ? hub.fileOf(REPO, file).sha256 : hub.fileOf(REPO, file).gitOid);
/** Requests that moved file contents (GET on resolve or CDN), as opposed to metadata calls. */
const bodyGets = (from: number): string[] =>
  hub.requests
    .slice(from)
    .filter((r) => r.method === 'GET' && !r.url.startsWith('/api/'))
    .map((r) => r.url);

function expectSnapshotLikeFixture(dir: string): void {
  expect(listTree(dir)).toEqual(listTree(TINY_DIFFUSERS));
  for (const rel of listTree(TINY_DIFFUSERS)) {
    expect(sha256(join(dir, rel)), rel).toBe(sha256(join(TINY_DIFFUSERS, rel)));
    expect(isRelativeSymlink(join(dir, rel)), rel).toBe(true);
    const depth = rel.split('/').length - 1;
    expect(readlinkSync(join(dir, rel)), rel).toBe(`${'../'.repeat(depth + 2)}blobs/${blobName(rel)}`);
  }
}

describe.skipIf(skip)('HF cache shared with Python huggingface_hub', () => {
  beforeAll(() => {
    if (!python.ok) {
      throw new Error(
        `python3 with huggingface_hub is needed for the HF cache compatibility tests (${python.detail}). ` +
          'Run scripts/ensure-python-hub.sh to install it, or set OVIS_SKIP_PYTHON_TESTS=1 to skip these tests.',
      );
    }
    console.log(`hub-python-compat: ${python.detail}`);
  });

  beforeEach(async () => {
    env = isolatedHubEnv();
    cacheDir = env.cacheDir;
    hub = new FakeHub([{ id: REPO, dir: TINY_DIFFUSERS, extraFiles: EXTRA }]);
    await hub.start();
    vi.stubEnv('HF_ENDPOINT', hub.url);
    vi.stubEnv('HF_HUB_CACHE', cacheDir);
  });

  afterEach(async () => {
    await hub.close();
    env.cleanup();
  });

  it('Python writes, we read: snapshot_download output is found offline with zero requests and loads', async () => {
    const { path } = await py<{ path: string }>('snapshot', { repo: REPO, revision: 'main', allow: ALLOW_PATTERNS, local: false });
    expect(path).toBe(join(realpathSync(cacheDir), 'models--owner--tiny', 'snapshots', hub.commitOf(REPO)));
    expectSnapshotLikeFixture(snapshotDir());
    expect(readFileSync(join(repoRoot(), 'refs', 'main'), 'utf8')).toBe(hub.commitOf(REPO));
    expect(hub.requests.some((r) => /README|demo\.png|\.bin$/.test(r.url))).toBe(false);
    expect(hub.requests.some((r) => r.host?.startsWith('localhost:'))).toBe(true); // LFS bodies came from the "CDN"

    const before = hub.requests.length;
    vi.stubEnv('HF_HUB_OFFLINE', '1');
    expect(await downloadModel(REPO)).toBe(snapshotDir());
    expect(await downloadModel(`${REPO}@${hub.commitOf(REPO)}`)).toBe(snapshotDir());
    vi.stubEnv('HF_HUB_OFFLINE', '');
    expect(await downloadModel(REPO)).toBe(snapshotDir()); // online too: a complete copy needs no request
    expect(hub.requests.length).toBe(before);

    const model = await resolveModel(snapshotDir());
    expect(model.layout).toBe('diffusers');
    expect(model.problems).toEqual([]);
    expect(model.plan.tensors.length).toBeGreaterThan(0);
  });

  it('Python writes, we read: we name blobs like Python, so a lost snapshot is relinked without re-downloading', async () => {
    await py('snapshot', { repo: REPO, revision: 'main', allow: ALLOW_PATTERNS, local: false });
    const blobs = readdirSync(join(repoRoot(), 'blobs')).sort();
    rmSync(join(repoRoot(), 'snapshots'), { recursive: true });
    const before = hub.requests.length;
    expect(await downloadModel(REPO)).toBe(snapshotDir());
    expect(bodyGets(before)).toEqual([]); // metadata (HEAD) only: every blob was already there under our name
    expect(readdirSync(join(repoRoot(), 'blobs')).sort()).toEqual(blobs);
    expectSnapshotLikeFixture(snapshotDir());
  });

  it('we write, Python reads: local_files_only finds our snapshot and files, byte-identical', async () => {
    const dir = await downloadModel(REPO);
    expect(dir).toBe(snapshotDir());
    const before = hub.requests.length;
    const real = realpathSync(dir);
    for (const revision of ['main', hub.commitOf(REPO)]) {
      const snap = await py<{ path: string }>('snapshot', { repo: REPO, revision, allow: ALLOW_PATTERNS, local: true });
      expect(snap.path).toBe(real);
      const files = await py<Record<string, { path: string; sha256: string }>>('files', { repo: REPO, revision, files: SOME_FILES });
      for (const f of SOME_FILES) {
        expect(files[f]?.path, f).toBe(join(real, ...f.split('/')));
        expect(files[f]?.sha256, f).toBe(sha256(join(TINY_DIFFUSERS, f)));
      }
    }
    // Offline mode through the environment, as users set it, and without allow_patterns.
    const offline = await py<{ path: string }>('snapshot', { repo: REPO, revision: 'main', allow: null, local: false }, { HF_HUB_OFFLINE: '1' });
    expect(offline.path).toBe(real);
    expect(hub.requests.length).toBe(before);
  });

  it('we write, Python reads: scan_cache_dir lists the repo with the right size, also mid-download, with no warnings', async () => {
    type Scan = {
      warnings: string[];
      incomplete: string[] | null; // null: this huggingface_hub does not report them
      repos: Array<{ repo_id: string; repo_type: string; size_on_disk: number; nb_files: number; revisions: Array<{ commit: string; refs: string[]; nb_files: number; size_on_disk: number; files: string[] }> }>;
    };
    // An interrupted download of ours leaves blobs/<etag>.incomplete, which Python lists as such.
    const cut = 'text_encoder/model.safetensors';
    hub.dropAfter.set(cut, 100_000);
    await expect(downloadModel(REPO, { retries: 0, concurrency: 1 })).rejects.toMatchObject({ code: 'HUB_NETWORK' });
    const partial = await py<Scan>('scan', { cache: cacheDir });
    expect(partial.warnings).toEqual([]);
    if (partial.incomplete !== null) expect(partial.incomplete).toEqual([join(realpathSync(cacheDir), 'models--owner--tiny', 'blobs', `${blobName(cut)}.incomplete`)]);
    expect(partial.repos.map((r) => r.repo_id)).toEqual([REPO]);

    await downloadModel(REPO);
    const scan = await py<Scan>('scan', { cache: cacheDir });
    expect(scan.warnings).toEqual([]);
    if (scan.incomplete !== null) expect(scan.incomplete).toEqual([]);
    const files = listTree(TINY_DIFFUSERS);
    const size = files.reduce((s, f) => s + statSync(join(TINY_DIFFUSERS, f)).size, 0);
    expect(scan.repos).toEqual([
      {
        repo_id: REPO,
        repo_type: 'model',
        size_on_disk: size,
        nb_files: files.length,
        revisions: [{ commit: hub.commitOf(REPO), refs: ['main'], nb_files: files.length, size_on_disk: size, files }],
      },
    ]);
  });

  it('we write, Python reads: Python online reuses our blobs instead of downloading them again', async () => {
    await downloadModel(REPO);
    const blobs = readdirSync(join(repoRoot(), 'blobs')).sort();
    rmSync(join(repoRoot(), 'snapshots'), { recursive: true });
    const before = hub.requests.length;
    const { path } = await py<{ path: string }>('snapshot', { repo: REPO, revision: 'main', allow: ALLOW_PATTERNS, local: false });
    expect(path).toBe(realpathSync(snapshotDir()));
    expect(bodyGets(before)).toEqual([]);
    expect(readdirSync(join(repoRoot(), 'blobs')).sort()).toEqual(blobs);
    expectSnapshotLikeFixture(snapshotDir());
    expect(existsSync(join(repoRoot(), 'refs', 'main'))).toBe(true);
  });

  it('like huggingface_hub, the token goes to the Hub but never to the storage CDN', async () => {
    await hub.close();
    hub = new FakeHub([{ id: REPO, dir: TINY_DIFFUSERS, gated: true }]);
    hub.tokens.add('hf_good');
    await hub.start();
    vi.stubEnv('HF_ENDPOINT', hub.url);
    const check = (from: number): void => {
      const sent = hub.requests.slice(from);
      const cdn = sent.filter((r) => r.url.startsWith('/cdn/'));
      expect(cdn.length).toBeGreaterThan(0);
      expect(cdn.every((r) => r.host?.startsWith('localhost:') && r.authorization === undefined)).toBe(true);
      expect(sent.filter((r) => !r.url.startsWith('/cdn/')).every((r) => r.authorization === 'Bearer hf_good')).toBe(true);
    };
    await downloadModel(REPO, { token: 'hf_good' });
    check(0);
    rmSync(repoRoot(), { recursive: true });
    const before = hub.requests.length;
    await py('snapshot', { repo: REPO, revision: 'main', allow: ALLOW_PATTERNS, local: false }, { HF_TOKEN: 'hf_good' });
    check(before);
    expectSnapshotLikeFixture(snapshotDir());
  });

  it('names blobs and repo folders with the same rules as huggingface_hub', async () => {
    const etags = ['"0123abcd"', 'W/"0123abcd"', '0123abcd', '""0123abcd""', 'W/0123abcd', '//W"a.b-c_d"'];
    const repos = ['AIDC-AI/Ovis-Image-7B', 'owner/tiny', 'a.b/c_d-e'];
    const names = await py<{ etags: string[]; folders: string[] }>('names', { etags, repos });
    expect(etags.map(normalizeEtag)).toEqual(names.etags);
    expect(repos.map((r) => new RepoCache('/c', r).root)).toEqual(names.folders.map((f) => join('/c', f)));
  });

  it('finds the cache folder and the saved token from the environment like huggingface_hub', async () => {
    const home = join(cacheDir, '..', 'home');
    const varDir = join(cacheDir, '..', 'var');
    mkdirSync(join(home, 'hfh'), { recursive: true });
    writeFileSync(join(home, 'hfh', 'token'), ' hf_from_file\r\n');
    const cases: Array<Record<string, string>> = [
      { HF_HOME: '~/hfh' },
      { HF_HOME: '$OVIS_T/hfh', OVIS_T: varDir },
      { HF_HOME: '~/hfh', HF_HUB_CACHE: '${OVIS_T}/c', OVIS_T: varDir },
      { HUGGINGFACE_HUB_CACHE: '~/legacy', XDG_CACHE_HOME: '~/xdg' },
      { XDG_CACHE_HOME: '~/xdg' },
      { HF_HUB_CACHE: '$OVIS_UNSET_VAR/c', HF_TOKEN_PATH: '~/hfh/token' },
      { HF_HOME: '~/hfh', HF_TOKEN: ' hf_from_env\n', HF_ENDPOINT: 'https://mirror.example/' },
      { HF_HUB_OFFLINE: 'yes' },
      { TRANSFORMERS_OFFLINE: 'ON' },
      { HF_HUB_OFFLINE: '0', TRANSFORMERS_OFFLINE: '1' },
    ];
    const names = ['HF_HOME', 'HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'XDG_CACHE_HOME', 'HF_TOKEN', 'HF_TOKEN_PATH', 'HF_ENDPOINT', 'HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE', 'OVIS_T', 'OVIS_UNSET_VAR'];
    for (const c of cases) {
      const childEnv: Record<string, string | undefined> = { HOME: home };
      for (const n of names) {
        childEnv[n] = c[n];
        vi.stubEnv(n, c[n]); // undefined: not set at all, as for Python
      }
      vi.stubEnv('HOME', home);
      const theirs = await py<{ cache: string; token: string | null; offline: boolean; endpoint: string }>('settings', {}, childEnv);
      const ours = resolveHubSettings();
      expect({ cache: ours.cacheDir, token: ours.token ?? null, offline: ours.offline, endpoint: ours.endpoint }, JSON.stringify(c)).toEqual(theirs);
    }
  });
  it('shares blob locks with huggingface_hub: a blob Python holds the lock of is waited for, and the reverse', async () => {
    const blob = blobName('model_index.json');
    const lock = join(cacheDir, '.locks', 'models--owner--tiny', `${blob}.lock`);
    const marker = join(cacheDir, '..', 'python-holds-the-lock');
    const held = py<{ released: number }>('hold_lock', { lock, marker, seconds: 1.5 });
    while (!existsSync(marker)) await new Promise((r) => setTimeout(r, 20));
    const dir = await downloadModel(REPO);
    const doneAt = Date.now();
    expect(doneAt).toBeGreaterThanOrEqual((await held).released);
    expectSnapshotLikeFixture(dir);

    // Ours held, Python's hf_hub_download of that blob waits for it.
    rmSync(join(repoRoot(), 'blobs', blob));
    rmSync(join(dir, 'model_index.json'));
    let releasedAt = 0;
    const ours = withFileLock(lock, undefined, async () => {
      await new Promise((r) => setTimeout(r, 4000)); // longer than Python takes to start
      releasedAt = Date.now();
    });
    await new Promise((r) => setTimeout(r, 100));
    const pythonDoneAt = await py('snapshot', { repo: REPO, revision: 'main', allow: ['model_index.json'], local: false }).then(() => Date.now());
    await ours;
    expect(pythonDoneAt).toBeGreaterThanOrEqual(releasedAt);
    expect(sha256(join(dir, 'model_index.json'))).toBe(sha256(join(TINY_DIFFUSERS, 'model_index.json')));
  });
});
