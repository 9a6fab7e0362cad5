import { Command } from 'commander';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { createDownloadProgressBar, registerDownloadCommand } from '../lib/cli/download.js';
import { FakeHub } from './helpers/hub-server.js';
import { isolatedHubEnv, listTree } from './helpers/hub-test-env.js';

const TINY = 'test/fixtures/golden/tiny-diffusers';
let hub: FakeHub;
let env: ReturnType<typeof isolatedHubEnv>;

beforeEach(async () => {
  env = isolatedHubEnv();
  hub = new FakeHub([{ id: 'AIDC-AI/Ovis-Image-7B', dir: TINY }]);
  await hub.start();
  vi.stubEnv('HF_ENDPOINT', hub.url);
});

afterEach(async () => {
  vi.restoreAllMocks();
  await hub.close();
  env.cleanup();
});

it('`download <repo> --cache-dir D` prints the snapshot folder on stdout', async () => {
  const out: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  const program = new Command().exitOverride();
  registerDownloadCommand(program);
  await program.parseAsync(['download', 'AIDC-AI/Ovis-Image-7B', '--revision', 'main', '--cache-dir', env.cacheDir, '--no-progress'], { from: 'user' });
  const dir = join(env.cacheDir, 'models--AIDC-AI--Ovis-Image-7B', 'snapshots', hub.commitOf('AIDC-AI/Ovis-Image-7B'));
  expect(out.join('')).toBe(`${dir}\n`);
  expect(listTree(dir)).toEqual(listTree(TINY));
});

it('the progress bar shows bytes, files and an ETA', () => {
  let text = '';
  const stream = Object.assign(Object.create(process.stderr) as NodeJS.WriteStream, {
    isTTY: true,
    columns: 200,
    write: (s: string) => ((text += s), true),
    cursorTo: () => true,
    clearLine: () => true,
    moveCursor: () => true,
  });
  const bar = createDownloadProgressBar(stream);
  const base = { file: 'vae/diffusion_pytorch_model.safetensors', fileTotal: 3 * 2 ** 20, total: 3 * 2 ** 20, filesDone: 0, filesTotal: 1 };
  bar.onProgress({ ...base, fileBytes: 0, bytes: 0 });
  bar.onProgress({ ...base, fileBytes: 2 ** 20, bytes: 2 ** 20 });
  bar.stop();
  expect(text).toMatch(/1\.0 MiB\/3\.0 MiB/);
  expect(text).toMatch(/ETA/);
  expect(text).toMatch(/\[0\/1\] vae\/diffusion_pytorch_model\.safetensors/);
});
