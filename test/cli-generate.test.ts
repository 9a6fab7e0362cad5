import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerGenerateCommand, outputPaths } from '../lib/cli/generate.js';
import { OvisError } from '../lib/errors.js';
import type { OvisImage } from '../lib/ovis-image.js';
import { decodePng } from '../lib/pipeline/png.js';
import { encodeTensorFile } from '../lib/pipeline/tensor-file.js';
import { makeModel, type FakeEngine } from './pipeline-fakes.js';
import { golden, pipelineCase, pngCloseShare } from './helpers/golden-manifest.js';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'ovis-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function cli(
  args: string[],
  real = false,
): Promise<{ stdout: string; stderr: string; engine: FakeEngine | undefined; model: OvisImage | undefined }> {
  const stdout = new Capture();
  const stderr = new Capture();
  let engine: FakeEngine | undefined;
  let model: OvisImage | undefined;
  const program = new Command().exitOverride();
  const fake = {
    loadModel: async () => {
      const made = makeModel();
      engine = made.engine;
      model = made.model;
      return made.model;
    },
  };
  registerGenerateCommand(program, { stdout, stderr, ...(real ? {} : fake) });
  try {
    await program.parseAsync(['generate', ...(real ? [] : ['-m', 'fake-model']), ...args], { from: 'user' });
  } catch (e) {
    Object.assign(e as object, { stdout: stdout.text, stderr: stderr.text, loaded: engine !== undefined });
    throw e;
  }
  return { stdout: stdout.text, stderr: stderr.text, engine, model };
}

const tiny = ['--width', '32', '--height', '32', '--steps', '2'];

describe('ovis-image generate (fake engine)', () => {
  it('writes a PNG and prints its path and seed', async () => {
    const out = path.join(dir, 'one.png');
    const r = await cli(['-p', 'a red fox', ...tiny, '--seed', '42', '-o', out]);
    expect(r.stdout).toBe(`${out}\tseed=42\n`);
    const png = decodePng(await readFile(out));
    expect(png.width).toBe(32);
    expect(png.text).toMatchObject({ prompt: 'a red fox', seed: '42', steps: '2', guidance: '5', size: '32x32' });
    expect(r.model?.disposed).toBe(true);
  });

  it('uses the documented defaults', async () => {
    const out = path.join(dir, 'defaults.png');
    const r = await cli(['-p', 'x', '-o', out, '-q']);
    const req = r.engine!.requests[0]!;
    expect(req.noiseShape).toEqual([1, 16, 128, 128]);
    expect(req.sigmas.length).toBe(51);
    expect(req.guidance).toBe(5);
    expect(r.stdout).toMatch(/seed=\d+\n$/);
  }, 30_000);

  it('--count K writes K images with seeds S, S+1, ...', async () => {
    const out = path.join(dir, 'many.png');
    const r = await cli(['-p', 'x', ...tiny, '--seed', '18446744073709551613', '--count', '3', '-o', out, '-q']);
    const paths = outputPaths(out, 3);
    expect(paths.map((p) => path.basename(p))).toEqual(['many-1.png', 'many-2.png', 'many-3.png']);
    expect(r.stdout).toBe(paths.map((p, i) => `${p}\tseed=${18446744073709551613n + BigInt(i)}\n`).join(''));
    for (const p of paths) expect(decodePng(await readFile(p)).width).toBe(32);
  });

  it('prints a line per step when stderr is not a terminal, nothing with --quiet', async () => {
    const loud = await cli(['-p', 'x', ...tiny, '-o', path.join(dir, 'loud.png')]);
    expect(loud.stderr).toMatch(/step 1\/2/);
    expect(loud.stderr).toMatch(/step 2\/2 .*it\/s .*ETA/);
    const quiet = await cli(['-p', 'x', ...tiny, '-o', path.join(dir, 'quiet.png'), '--quiet']);
    expect(quiet.stderr).toBe('');
  });

  it('--timings prints the stage times as one JSON line on stderr, even with --quiet', async () => {
    const r = await cli(['-p', 'x', ...tiny, '-o', path.join(dir, 'timed.png'), '--quiet', '--timings']);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^timings \{/);
    const t = JSON.parse(lines[0]!.slice('timings '.length)) as Record<string, number>;
    // the fake engine reports 1, 2 and 3 ms for text, denoise and decode; 2 steps
    expect(t).toMatchObject({ textMs: 1, denoiseMs: 2, stepMs: 1, decodeMs: 3 });
    expect(t.loadMs).toBeGreaterThanOrEqual(0);
    expect(t.totalMs).toBeGreaterThanOrEqual(0);
    const plain = await cli(['-p', 'x', ...tiny, '-o', path.join(dir, 'untimed.png'), '--quiet']);
    expect(plain.stderr).toBe('');
  });

  it('reads noise from a safetensors file and takes the size from it', async () => {
    const noiseFile = path.join(dir, 'noise.safetensors');
    const data = new Float32Array(16 * 4 * 6).map((_, i) => Math.sin(i));
    await writeFile(noiseFile, encodeTensorFile({ noise: { shape: [1, 16, 4, 6], data } }));
    const out = path.join(dir, 'noise.png');
    const r = await cli(['-p', 'x', '--steps', '2', '--noise', noiseFile, '-o', out, '-q']);
    expect(r.engine!.requests[0]!.noise).toEqual(data);
    expect(r.engine!.requests[0]!.noiseShape).toEqual([1, 16, 4, 6]);
    expect(r.stdout).toBe(`${out}\tseed=custom-noise\n`);
  });

  it('rejects noise of the wrong shape', async () => {
    const noiseFile = path.join(dir, 'bad-noise.safetensors');
    await writeFile(noiseFile, encodeTensorFile({ noise: { shape: [1, 4, 4, 4], data: new Float32Array(64) } }));
    await expect(cli(['-p', 'x', '--noise', noiseFile, '-o', path.join(dir, 'n.png')])).rejects.toMatchObject({
      code: 'OVIS_INVALID_OPTIONS',
      message: expect.stringMatching(/\[1, 16, H\/8, W\/8\]/),
    });
    await expect(
      cli(['-p', 'x', '--noise', noiseFile.replace('bad-', ''), '--width', '64', '-o', path.join(dir, 'n.png')]),
    ).rejects.toMatchObject({ code: 'OVIS_INVALID_OPTIONS' });
  });

  it('fails on an unwritable output path before loading the model', async () => {
    const missing = path.join(dir, 'no-such-dir', 'x.png');
    const err = (await cli(['-p', 'x', ...tiny, '-o', missing]).catch((e: unknown) => e)) as OvisError & { loaded: boolean };
    expect(err).toBeInstanceOf(OvisError);
    expect(err.message).toMatch(/cannot write .*no-such-dir/);
    expect(err.loaded).toBe(false);

    const err2 = (await cli(['-p', 'x', ...tiny, '-o', dir]).catch((e: unknown) => e)) as OvisError & { loaded: boolean };
    expect(err2.message).toMatch(/is a folder/);
    expect(err2.loaded).toBe(false);

    if (process.getuid?.() !== 0) {
      const locked = path.join(dir, 'locked');
      await import('node:fs/promises').then((fs) => fs.mkdir(locked));
      await chmod(locked, 0o500);
      const err3 = (await cli(['-p', 'x', ...tiny, '-o', path.join(locked, 'x.png')]).catch((e: unknown) => e)) as OvisError & { loaded: boolean };
      expect(err3.message).toMatch(/no permission/);
      expect(err3.loaded).toBe(false);
    }
  });

  it('rejects bad values with clear errors', async () => {
    const out = path.join(dir, 'bad.png');
    await expect(cli(['-p', 'x', '--width', '100', '-o', out])).rejects.toMatchObject({ code: 'OVIS_INVALID_OPTIONS', message: expect.stringMatching(/^--width .*multiple of 16.*\(got 100\)$/) });
    await expect(cli(['-p', 'x', '--steps', '0', '-o', out])).rejects.toMatchObject({ message: expect.stringMatching(/^--steps .*\(got 0\)$/) });
    await expect(cli(['-p', 'x', '--steps', 'many', '-o', out])).rejects.toMatchObject({ message: expect.stringMatching(/^--steps must be an integer.*\(got many\)$/) });
    await expect(cli(['-p', 'x', '--guidance', '-2', '-o', out])).rejects.toMatchObject({ message: expect.stringMatching(/^--guidance .*\(got -2\)$/) });
    await expect(cli(['-p', 'x', '--seed', '-1', '-o', out])).rejects.toThrow();
    await expect(cli(['-p', 'x', '--seed', '18446744073709551616', '-o', out])).rejects.toMatchObject({ message: expect.stringMatching(/--seed/) });
    await expect(cli(['-p', 'x', '--count', '0', '-o', out])).rejects.toMatchObject({ message: expect.stringMatching(/--count/) });
  });

  it('rejects bad generate options before loading the model', async () => {
    const out = path.join(dir, 'early.png');
    for (const bad of [['--width', '100'], ['--steps', '0'], ['--guidance', '-1']]) {
      const err = (await cli(['-p', 'x', ...bad, '-o', out]).catch((e: unknown) => e)) as OvisError & { loaded: boolean };
      expect(err.code).toBe('OVIS_INVALID_OPTIONS');
      expect(err.loaded).toBe(false);
    }
  });
});

const p3 = pipelineCase('p3');
const p3Args = ['-p', p3.prompt, '--width', '32', '--height', '32', '--steps', '2', '--guidance', '1', '--seed', String(p3.seed), '--device', 'cpu'];


describe('ovis-image generate (real engine, tiny golden model)', () => {
  it('reproduces golden case p3 from its seed', async () => {
    const out = path.join(dir, 'p3.png');
    const r = await cli(['-m', golden('tiny-diffusers'), ...p3Args, '-o', out, '-q'], true);
    expect(r.stdout).toBe(`${out}\tseed=${p3.seed}\n`);
    expect(pngCloseShare(await readFile(out), 'pipeline/p3/image.png')).toBeGreaterThanOrEqual(0.999);
  });

  const bin = fileURLToPath(new URL('../bin/ovis-image.js', import.meta.url));
  const built = existsSync(fileURLToPath(new URL('../dist/cli/main.js', import.meta.url)));

  it.skipIf(!built)('runs as a process: writes the image, exit code 0', async () => {
    const out = path.join(dir, 'p3-process.png');
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [bin, 'generate', '-m', golden('tiny-diffusers'), ...p3Args, '-o', out]);
    expect(stdout).toBe(`${out}\tseed=${p3.seed}\n`);
    expect(stderr).toMatch(/step 2\/2/); // not a terminal: one line per step
    expect(pngCloseShare(await readFile(out), 'pipeline/p3/image.png')).toBeGreaterThanOrEqual(0.999);
  });

  it.skipIf(!built)('runs as a process: unwritable output is a clean error, exit code 1, before loading', async () => {
    const out = path.join(dir, 'missing-folder', 'x.png');
    const err = (await promisify(execFile)(process.execPath, [bin, 'generate', '-m', golden('tiny-diffusers'), ...p3Args, '-o', out]).catch(
      (e: unknown) => e,
    )) as { code: number; stderr: string };
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(/^ovis-image: error: cannot write .*missing-folder/m);
    expect(err.stderr).not.toMatch(/loading/);
    expect(err.stderr).not.toMatch(/ at /); // no stack trace
  });
});
