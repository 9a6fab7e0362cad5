/**
 * Two `ovis-image download` processes on one model and one cache share the work through per-blob locks
 * (<cache>/.locks/<repo folder>/<etag>.lock, flock as Python's filelock takes it): both succeed, each
 * blob crosses the network once. Needs the optional fs-ext package (the lock's flock).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { fileLocksAvailable } from '../lib/hub/file-lock.js';
import { assertBuilt } from './cli-helpers.js';
import { FakeHub } from './helpers/hub-server.js';
import { isolatedHubEnv, listTree, runCli } from './helpers/hub-test-env.js';
import { TINY_DIFFUSERS } from './model-helpers.js';

const REPO = 'owner/tiny';
let hub: FakeHub;
let env: ReturnType<typeof isolatedHubEnv>;

beforeEach(async () => {
  env = isolatedHubEnv();
  hub = new FakeHub([{ id: REPO, dir: TINY_DIFFUSERS, extraFiles: { 'tokenizer/empty.txt': '' } }]);
  await hub.start();
  vi.stubEnv('HF_ENDPOINT', hub.url);
});

afterEach(async () => {
  await hub.close();
  env.cleanup();
});

it('fs-ext is installed, so downloads take the flock', () => {
  expect(fileLocksAvailable()).toBe(true);
});

it('two download processes on one model and cache both succeed, fetching each blob once', async () => {
  assertBuilt();
  hub.chunkDelayMs = 4; // bodies take ~1 s, so the two runs overlap
  const args = ['download', REPO, '--cache-dir', env.cacheDir, '--no-progress'];
  const [a, b] = await Promise.all([runCli(args), runCli(args)]);
  const dir = join(env.cacheDir, 'models--owner--tiny', 'snapshots', hub.commitOf(REPO));
  for (const r of [a, b]) {
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${dir}\n`);
  }
  expect(listTree(dir)).toEqual([...listTree(TINY_DIFFUSERS), 'tokenizer/empty.txt'].sort());
  const bodies = hub.requests.filter((r) => r.method === 'GET' && !r.url.startsWith('/api/')).map((r) => r.url);
  expect(bodies.length).toBe(new Set(bodies).size);
  const gitOid = hub.fileOf(REPO, 'model_index.json').gitOid;
  expect(existsSync(join(env.cacheDir, '.locks', 'models--owner--tiny', `${gitOid}.lock`))).toBe(true);
});
