/**
 * Hub model ids in loading: OvisImage.load('owner/name[@rev]') and the CLI's -m fetch the model from a
 * local stand-in for the Hub (test/helpers/hub-server.ts) into a temp HF cache, then generate for real
 * on the CPU addon. -m left out means DEFAULT_MODEL_ID.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OvisImage } from '../lib/ovis-image.js';
import type { LoadProgress } from '../lib/pipeline/options.js';
import { decodePng } from '../lib/pipeline/png.js';
import { assertBuilt } from './cli-helpers.js';
import { FakeHub } from './helpers/hub-server.js';
import { isolatedHubEnv, runCli } from './helpers/hub-test-env.js';
import { TINY_DIFFUSERS } from './model-helpers.js';

const tiny = { prompt: 'hi', width: 32, height: 32, steps: 2, seed: 1 } as const;

let hub: FakeHub;
let env: ReturnType<typeof isolatedHubEnv>;

beforeEach(async () => {
  env = isolatedHubEnv();
  hub = new FakeHub([{ id: 'owner/tiny', dir: TINY_DIFFUSERS }]);
  await hub.start();
  vi.stubEnv('HF_ENDPOINT', hub.url);
  vi.stubEnv('HF_HUB_CACHE', env.cacheDir);
});

afterEach(async () => {
  await hub.close();
  env.cleanup();
});

const cli = runCli;

describe('OvisImage.load with a Hub model id', () => {
  it('downloads into the HF cache with progress, generates, and uses the cache the second time', async () => {
    const events: LoadProgress[] = [];
    const model = await OvisImage.load('owner/tiny@main', { device: 'cpu', onProgress: (p) => events.push(p) });
    try {
      const downloads = events.filter((e) => e.phase === 'download' && e.download);
      expect(downloads.length).toBeGreaterThan(0);
      const last = downloads[downloads.length - 1]!.download!;
      expect(last.bytes).toBe(last.total);
      expect(last.filesDone).toBe(last.filesTotal);
      expect(events.map((e) => e.phase)).toEqual(expect.arrayContaining(['resolve', 'tokenizer', 'backend', 'weights', 'ready']));
      expect(model.backendInfo).toMatchObject({ requested: 'cpu', backend: 'cpu', device: 'cpu' });
      const result = await model.generate(tiny);
      expect(result.image.data.length).toBe(32 * 32 * 3);
      expect(decodePng(await result.toPNG()).text.model).toBe('owner/tiny@main');
    } finally {
      await model.dispose();
    }
    expect(existsSync(path.join(env.cacheDir, 'models--owner--tiny', 'snapshots', hub.commitOf('owner/tiny'), 'model_index.json'))).toBe(true);

    const before = hub.requests.length;
    const again = await OvisImage.load('owner/tiny', { device: 'cpu' });
    await again.dispose();
    expect(hub.requests.length).toBe(before); // complete cached copy: no request at all
  });

  it('names the repo and says no local folder exists for an unknown id', async () => {
    await expect(OvisImage.load('owner/missing', { device: 'cpu' })).rejects.toMatchObject({
      code: 'HUB_NOT_FOUND',
      message: expect.stringContaining('no local folder "owner/missing" exists either'),
    });
  });
});

describe('CLI -m with a Hub model id', () => {
  it('generate -m owner/tiny writes the PNG and, with --verbose, says which backend and why', async () => {
    assertBuilt();
    const out = path.join(env.cacheDir, '..', 'out.png');
    const r = await cli(['generate', '-m', 'owner/tiny', '-p', 'hi', '--width', '32', '--height', '32', '--steps', '2', '--seed', '1', '-o', out, '--device', 'cpu', '--verbose']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${out}\tseed=1\n`);
    expect(decodePng(await import('node:fs/promises').then((fs) => fs.readFile(out))).width).toBe(32);
    expect(r.stderr).toMatch(/download: \d+\/\d+ files/);
    expect(r.stderr).toMatch(/backend: cpu \((prebuilt|built from source) CPU addon .*\); device 'cpu' was asked for/);
  });

  it('info and tokenize fetch the model too; info names the backend device auto would get', async () => {
    const info = await cli(['info', '-m', 'owner/tiny']);
    expect(info.code, info.stderr).toBe(0);
    expect(info.stdout).toContain('layout: diffusers');
    expect(info.stdout).toMatch(/^backend \(device auto\): (cpu|cuda)/m);
    const tok = await cli(['tokenize', '-m', 'owner/tiny', '-p', 'a cat']);
    expect(tok.code, tok.stderr).toBe(0);
    expect((JSON.parse(tok.stdout) as { input_ids: number[] }).input_ids.length).toBe(284);
  });

  it('-m left out means AIDC-AI/Ovis-Image-7B (here: offline with an empty cache, a clear error)', async () => {
    for (const cmd of [['info'], ['tokenize', '-p', 'x'], ['generate', '-p', 'x', '-o', path.join(env.cacheDir, '..', 'x.png')]]) {
      const r = await cli(cmd, { HF_HUB_OFFLINE: '1' });
      expect(r.code, cmd.join(' ')).toBe(1);
      expect(r.stderr).toMatch(/^ovis-image: error: HF_HUB_OFFLINE is set and there is no cached copy of AIDC-AI\/Ovis-Image-7B@main/m);
    }
  });
});
