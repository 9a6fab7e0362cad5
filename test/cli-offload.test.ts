/**
 * `generate --offload <mode>` through the real CLI process: the mode reaches the load options (the verbose
 * weights line says it) and still gives golden case p3; bad values exit 2 before any model is loaded.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { golden, pipelineCase, pngCloseShare } from './helpers/golden-manifest.js';

const bin = fileURLToPath(new URL('../bin/ovis-image.js', import.meta.url));
const built = existsSync(fileURLToPath(new URL('../dist/cli/main.js', import.meta.url)));
const run = promisify(execFile);
const p3 = pipelineCase('p3');
const p3Args = ['-p', p3.prompt, '--width', '32', '--height', '32', '--steps', '2', '--guidance', '1', '--seed', String(p3.seed), '--device', 'cpu', '--threads', '2'];


describe.skipIf(!built)('ovis-image generate --offload (the real CLI process)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'ovis-offload-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const mode of ['layers', 'text-encoder']) {
    it(`--offload ${mode} loads with that mode and reproduces golden case p3`, async () => {
      const out = path.join(dir, `${mode}.png`);
      const { stdout, stderr } = await run(process.execPath, [bin, 'generate', '-m', golden('tiny-diffusers'), ...p3Args, '--offload', mode, '-v', '-o', out]);
      expect(stdout).toBe(`${out}\tseed=${p3.seed}\n`);
      expect(stderr).toMatch(new RegExp(`^weights: loading weights on cpu, offload ${mode}$`, 'm'));
      expect(pngCloseShare(await readFile(out), 'pipeline/p3/image.png')).toBeGreaterThanOrEqual(0.999);
    });
  }

  const usage: [string[], RegExp][] = [
    [['--offload', 'gpu'], /--offload must be 'none', 'text-encoder', 'layers' or 'auto' \(got "?gpu"?\)/],
    [['--offload', 'layers', '--keep-text-encoder'], /--offload cannot be combined with/],
  ];
  for (const [flags, message] of usage) {
    it(`exits 2 on ${flags.join(' ')} before loading`, async () => {
      const out = path.join(dir, 'never.png');
      const err = (await run(process.execPath, [bin, 'generate', '-m', path.join(dir, 'no-such-model'), '-p', 'x', ...flags, '-o', out]).catch((e: unknown) => e)) as { code: number; stderr: string };
      expect(err.code).toBe(2);
      expect(err.stderr).toMatch(message);
      expect(existsSync(out)).toBe(false);
    });
  }
});
