// --cache-dir wherever a Hub id is accepted (generate, info, tokenize, download), against the local fake Hub.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPngText } from '../lib/pipeline/png.js';
import { assertBuilt } from './cli-helpers.js';
import { FakeHub } from './helpers/hub-server.js';

const TINY = path.resolve('test/fixtures/golden/tiny-diffusers');
const BIN = path.resolve('bin/ovis-image.js');
const REPO = 'AIDC-AI/Ovis-Image-7B';
let hub: FakeHub;
let home: string;

beforeAll(async () => {
  assertBuilt();
  home = mkdtempSync(path.join(tmpdir(), 'ovis-cli-cache-'));
  hub = new FakeHub([{ id: REPO, dir: TINY }]);
  await hub.start();
});
afterAll(async () => {
  await hub.close();
  rmSync(home, { recursive: true, force: true });
});

/** Runs the binary without blocking the event loop (the fake Hub answers from this process). */
async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, HF_ENDPOINT: hub.url, HF_HOME: path.join(home, 'hf-home'), HF_HUB_CACHE: '', HF_TOKEN: '', HF_HUB_OFFLINE: '', OVIS_DEBUG: '' };
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], { env });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('--cache-dir', () => {
  const commands: Record<string, (cache: string) => string[]> = {
    generate: (cache) => ['generate', '-m', REPO, '--cache-dir', cache, '-p', 'x', '--width', '32', '--height', '32', '--steps', '1', '--device', 'cpu', '-q', '-o', path.join(home, 'x.png')],
    info: (cache) => ['info', '-m', REPO, '--cache-dir', cache],
    tokenize: (cache) => ['tokenize', '-m', REPO, '--cache-dir', cache, '-p', 'x'],
    download: (cache) => ['download', REPO, '--cache-dir', cache, '--no-progress'],
  };
  it.each(Object.keys(commands))('%s downloads into the given cache, not the default one', async (name) => {
    const cache = path.join(home, `cache-${name}`);
    const r = await run(commands[name]!(cache));
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(path.join(cache, 'models--AIDC-AI--Ovis-Image-7B', 'snapshots', hub.commitOf(REPO)))).toBe(true);
    expect(existsSync(path.join(home, 'hf-home', 'hub'))).toBe(false);
    // the image still names the model by its Hub id
    if (name === 'generate') expect(readPngText(readFileSync(path.join(home, 'x.png'))).model).toBe(REPO);
  });
});
