/**
 * The downloader against servers that misbehave: redirects to other origins (the token must not follow),
 * odd answers (a "." ETag, an HTML page, redirect loops, storage refusals), hostile file lists, and
 * files that arrive damaged. Every failure is a typed error that says what the server did.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OvisError } from '../lib/errors.js';
import { downloadModel } from '../lib/hub/index.js';
import { fetchFollowingRedirects, sameOrigin } from '../lib/hub/redirects.js';
import { FakeHub } from './helpers/hub-server.js';
import { isolatedHubEnv, listTree, runCli } from './helpers/hub-test-env.js';

const TINY = 'test/fixtures/golden/tiny-diffusers';
const REPO = 'owner/tiny';

let hub: FakeHub;
let env: ReturnType<typeof isolatedHubEnv>;
let cacheDir: string;

beforeEach(async () => {
  env = isolatedHubEnv();
  cacheDir = env.cacheDir;
  hub = new FakeHub([
    { id: REPO, dir: TINY, extraFiles: { 'tokenizer/empty.txt': '' } },
    { id: 'gated/model', dir: TINY, gated: true },
  ]);
  hub.tokens.add('hf_good');
  await hub.start();
  vi.stubEnv('HF_ENDPOINT', hub.url);
});

afterEach(async () => {
  vi.unstubAllGlobals();
  await hub.close();
  env.cleanup();
});

async function rejection(p: Promise<unknown>, code: string): Promise<OvisError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OvisError);
  expect((err as OvisError).code, (err as Error).message).toBe(code);
  return err as OvisError;
}

const sha256 = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

function expectSameAsFixture(dir: string): void {
  for (const rel of listTree(TINY)) expect(sha256(join(dir, rel)), rel).toBe(sha256(join(TINY, rel)));
}

describe('the token stays on the origin it was given to', () => {
  it('compares scheme, host and port', () => {
    expect(sameOrigin('https://huggingface.co/a', 'https://huggingface.co:443/b')).toBe(true);
    expect(sameOrigin('https://huggingface.co/a', 'http://huggingface.co/a')).toBe(false);
    expect(sameOrigin('https://huggingface.co/a', 'https://cdn-lfs.huggingface.co/a')).toBe(false);
    expect(sameOrigin('http://127.0.0.1:8000/a', 'http://127.0.0.1:8001/a')).toBe(false);
    expect(sameOrigin('http://127.0.0.1:8000/a', 'http://localhost:8000/a')).toBe(false);
  });

  it('drops Authorization on a redirect from https to http, and never sends it again', async () => {
    const sent: Array<{ url: string; auth: string | undefined }> = [];
    const hops: Record<string, string> = {
      'https://hub.test/a': 'https://hub.test/b', // same origin: keeps the token
      'https://hub.test/b': 'http://hub.test/c', // scheme change: drops it
      'http://hub.test/c': 'https://hub.test/d', // back on the first origin: still dropped
    };
    vi.stubGlobal('fetch', async (url: string, init: { headers: Record<string, string> }) => {
      sent.push({ url, auth: init.headers['authorization'] });
      const next = hops[url];
      return next ? new Response(null, { status: 302, headers: { location: next } }) : new Response('ok');
    });
    const { res, url } = await fetchFollowingRedirects('https://hub.test/a', { token: 'hf_secret', follow: 'all' });
    expect(await res.text()).toBe('ok');
    expect(url).toBe('https://hub.test/d');
    expect(sent.map((s) => s.auth)).toEqual(['Bearer hf_secret', 'Bearer hf_secret', undefined, undefined]);
  });

  it('does not send the token to storage on another port of the same host', async () => {
    const cdn = new FakeHub([{ id: 'gated/model', dir: TINY }]);
    await cdn.start();
    try {
      hub.cdnUrl = cdn.url; // same host (127.0.0.1) as the Hub, other port
      expectSameAsFixture(await downloadModel('gated/model', { cacheDir, token: 'hf_good' }));
      expect(cdn.requests.length).toBeGreaterThan(0);
      expect(cdn.requests.filter((r) => r.authorization !== undefined)).toEqual([]);
      expect(hub.requests.every((r) => r.authorization === 'Bearer hf_good')).toBe(true);
    } finally {
      await cdn.close();
    }
  });

  it('does not send the token to storage on another host name of the same port', async () => {
    expectSameAsFixture(await downloadModel('gated/model', { cacheDir, token: 'hf_good' }));
    const toCdn = hub.requests.filter((r) => r.host?.startsWith('localhost:'));
    expect(toCdn.length).toBeGreaterThan(0);
    expect(toCdn.filter((r) => r.authorization !== undefined)).toEqual([]);
  });
});

describe('odd Hub answers give a typed error saying what the server did', () => {
  const onResolveOf = (file: string, answer: (res: import('node:http').ServerResponse) => void): void => {
    hub.intercept = (_req, res, path) => {
      if (!path.includes('/resolve/') || !path.endsWith(`/${file}`)) return false;
      answer(res);
      return true;
    };
  };

  it('an ETag of "."', async () => {
    onResolveOf('model_index.json', (res) => {
      res.writeHead(200, { etag: '"."', 'content-length': '2', 'x-repo-commit': hub.commitOf(REPO) });
      res.end('{}');
    });
    const err = await rejection(downloadModel(REPO, { cacheDir }), 'HUB_BAD_RESPONSE');
    expect(err.message).toContain('the ETag "\\".\\""');
    expect(err.message).toMatch(/cannot name a file in the cache/);
  });

  it('an HTML page with status 200 from the revision API', async () => {
    hub.intercept = (_req, res, path) => {
      if (!path.startsWith('/api/models/')) return false;
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><html><head><title>Sign in - Corporate Proxy</title></head><body>log in</body></html>');
      return true;
    };
    const err = await rejection(downloadModel(REPO, { cacheDir }), 'HUB_BAD_RESPONSE');
    expect(err.message).toContain('answered HTTP 200 with an HTML page ("Sign in - Corporate Proxy")');
    expect(err.message).toMatch(/HF_ENDPOINT/);
  });

  it('a redirect loop', async () => {
    const again = `/${REPO}/resolve/${hub.commitOf(REPO)}/model_index.json`;
    hub.intercept = (_req, res, path) => {
      if (path !== again && path !== '/elsewhere') return false;
      res.writeHead(302, { location: path === again ? '/elsewhere' : again });
      res.end();
      return true;
    };
    const err = await rejection(downloadModel(REPO, { cacheDir }), 'HUB_BAD_RESPONSE');
    expect(err.message).toMatch(/redirected in a loop \(.*model_index\.json → .*\/elsewhere → .*model_index\.json\)/);
  });

  for (const status of [401, 403, 404]) {
    it(`storage (the CDN) answering ${status}`, async () => {
      hub.intercept = (_req, res, path) => {
        if (!path.startsWith('/cdn/')) return false;
        res.writeHead(status, { 'content-type': 'application/xml' });
        res.end('<Error><Code>AccessDenied</Code></Error>');
        return true;
      };
      const err = await rejection(downloadModel(REPO, { cacheDir, retries: 0 }), 'HUB_BAD_RESPONSE');
      expect(err.message).toMatch(new RegExp(`storage server localhost:\\d+ that the Hub sent \\S+\\.safetensors of ${REPO} to answered HTTP ${status}`));
      expect(err.message).not.toMatch(/HF_TOKEN|not found on/);
    });
  }
});

describe('file lists that point outside the snapshot are refused', () => {
  const entries = ['tokenizer/..', 'scheduler/..', '/etc/passwd', 'tokenizer\\..\\..\\evil.json', 'tokenizer//vocab.json', 'a/./b'];
  for (const entry of entries) {
    it(`refuses ${JSON.stringify(entry)}, naming it`, async () => {
      const evil = new FakeHub([{ id: 'evil/model', dir: TINY, extraFiles: { [entry]: 'x' } }]);
      await evil.start();
      try {
        const err = await rejection(downloadModel('evil/model', { cacheDir, endpoint: evil.url }), 'HUB_BAD_RESPONSE');
        expect(err.message).toContain(`has the entry ${JSON.stringify(entry)}`);
        expect(existsSync(join(cacheDir, 'models--evil--model', 'snapshots'))).toBe(false);
      } finally {
        await evil.close();
      }
    });
  }

  it('the download command says so and exits 1 (it used to exit 13 with no message)', async () => {
    const evil = new FakeHub([{ id: 'evil/model', dir: TINY, extraFiles: { 'tokenizer/..': 'x' } }]);
    await evil.start();
    try {
      const r = await runCli(['download', 'evil/model', '--cache-dir', cacheDir, '--no-progress'], { HF_ENDPOINT: evil.url });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/^ovis-image: error: The file list of evil\/model@main has the entry "tokenizer\/\.\."/m);
    } finally {
      await evil.close();
    }
  });
});

describe('files that are empty or damaged', () => {
  it('downloads a zero-byte file', async () => {
    const dir = await downloadModel(REPO, { cacheDir });
    expect(statSync(join(dir, 'tokenizer', 'empty.txt')).size).toBe(0);
    expectSameAsFixture(dir);
  });

  it('fetches again a small file that arrived damaged (same size), checking its git object id', async () => {
    hub.damageOnce.add('scheduler/scheduler_config.json');
    const dir = await downloadModel(REPO, { cacheDir, retryDelayMs: 1 });
    expectSameAsFixture(dir);
    expect(hub.requests.filter((r) => r.method === 'GET' && r.url.endsWith('/scheduler/scheduler_config.json'))).toHaveLength(2);
  });

  it('heals a cached small file damaged in place: what fails the snapshot check is fetched again', async () => {
    const dir = await downloadModel(REPO, { cacheDir });
    const file = join(dir, 'model_index.json');
    const size = statSync(file).size;
    writeFileSync(file, Buffer.alloc(size, 'x')); // writes through the link into the blob
    expect(await downloadModel(REPO, { cacheDir })).toBe(dir);
    expectSameAsFixture(dir);
    expect(await downloadModel(REPO, { cacheDir })).toBe(dir); // healed: the next run is cache-only
  });
});
