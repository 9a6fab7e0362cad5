// -o through the real binary: checked by creating the file before the model loads, special files refused,
// the format the extension asks for.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import jpeg from 'jpeg-js';
import { PassThrough } from 'node:stream';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerGenerateCommand } from '../lib/cli/generate.js';
import { OvisError } from '../lib/errors.js';
import { decodePng } from '../lib/pipeline/png.js';
import { assertBuilt, cli, hasStackTrace } from './cli-helpers.js';
import { pipelineCase } from './helpers/golden-manifest.js';
import { makeModel } from './pipeline-fakes.js';

const TINY = path.resolve('test/fixtures/golden/tiny-diffusers');
const p3 = pipelineCase('p3');
const P3_ARGS = ['-m', TINY, '-p', p3.prompt, '--width', '32', '--height', '32', '--steps', '2', '--guidance', '1', '--seed', String(p3.seed), '--device', 'cpu', '-q'];
let dir: string;
beforeAll(() => {
  assertBuilt();
  dir = mkdtempSync(path.join(tmpdir(), 'ovis-cli-out-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const generate = (output: string, extra: string[] = []): ReturnType<typeof cli> => cli(['generate', ...P3_ARGS, '-o', output, ...extra]);

/** Refused before loading: the message names the path, no "internal error", nothing left behind. */
function expectRefused(output: string, code: number, why: RegExp): void {
  const r = generate(output);
  expect(r.code, output).toBe(code);
  expect(r.stderr, output).toMatch(new RegExp(`^ovis-image: error: .*${why.source}`));
  expect(r.stderr).toContain(output);
  expect(r.stderr).not.toMatch(/internal error|loading/);
  expect(hasStackTrace(r.stderr)).toBe(false);
}

describe('generate -o: checked before the model loads', () => {
  it('refuses places where no file can be created, naming the path and why', () => {
    expectRefused('/proc/ovis-test.png', 1, /cannot write .*(files cannot be created in|no permission to write in) \/proc/);
    expectRefused('/sys/ovis-test.png', 1, /cannot write /);
    expectRefused(path.join(dir, 'missing', 'x.png'), 1, /the folder .*missing does not exist/);
    expectRefused(path.join(dir, `${'n'.repeat(300)}.png`), 1, /the file name is too long/);
  });

  it('refuses a link loop and a dangling link', () => {
    const a = path.join(dir, 'loop-a.png');
    const b = path.join(dir, 'loop-b.png');
    symlinkSync(b, a);
    symlinkSync(a, b);
    expectRefused(a, 1, /link loop/);
    const dangling = path.join(dir, 'dangling.png');
    symlinkSync(path.join(dir, 'nowhere', 'target.png'), dangling);
    expectRefused(dangling, 1, /dangling link/);
  });

  it('refuses devices and FIFOs without blocking, and never writes beside them', () => {
    expectRefused('/dev/full', 2, /not a regular file \(a character device\)/);
    const fifo = path.join(dir, 'pipe.png');
    execFileSync('mkfifo', [fifo]);
    expectRefused(fifo, 2, /not a regular file \(a FIFO\)/);
    const counted = cli(['generate', ...P3_ARGS, '--count', '2', '-o', fifo]);
    expect(counted.code).toBe(2);
    expect(readdirSync(dir).filter((f) => f.startsWith('pipe-'))).toEqual([]);
  });

  it('--count 2 -o /dev/null discards both images and creates no /dev/null-1.png', () => {
    const r = cli(['generate', ...P3_ARGS, '--count', '2', '-o', '/dev/null']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`/dev/null\tseed=${p3.seed}\n/dev/null\tseed=${p3.seed + 1}\n`);
    expect(existsSync('/dev/null-1.png')).toBe(false);
  });

  it('refuses unknown extensions and WebP with exit 2', () => {
    expectRefused(path.join(dir, 'x.gif'), 2, /unknown image format "\.gif"; use \.png, \.jpg or \.jpeg/);
    expectRefused(path.join(dir, 'x.webp'), 2, /WebP is not supported/);
  });
});

describe('generate -o: the format the extension asks for', () => {
  it('.jpg and .JPEG hold JPEG data close to the PNG, with the parameters in a comment', () => {
    const png = path.join(dir, 'p3.png');
    expect(generate(png).code).toBe(0);
    const reference = decodePng(readFileSync(png));
    for (const name of ['p3.jpg', 'p3.JPEG']) {
      const file = path.join(dir, name);
      const r = generate(file);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(`${file}\tseed=${p3.seed}\n`);
      const bytes = readFileSync(file);
      expect([...bytes.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
      const decoded = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false });
      expect([decoded.width, decoded.height]).toEqual([32, 32]);
      let diff = 0;
      for (let i = 0; i < reference.data.length; i++) diff += Math.abs(decoded.data[i]! - reference.data[i]!);
      expect(diff / reference.data.length).toBeLessThan(12); // JPEG is lossy; the same picture stays within a few levels
      expect(decoded.comments?.join('')).toContain(`"seed":"${p3.seed}"`);
    }
  });

  it('a run that fails after the check leaves no file and no temporary file behind', () => {
    const out = mkdtempSync(path.join(tmpdir(), 'ovis-cli-fail-'));
    const notAModel = mkdtempSync(path.join(tmpdir(), 'ovis-cli-empty-'));
    try {
      const r = cli(['generate', '-m', notAModel, '-p', 'x', '-o', path.join(out, 'never.png')]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/not a known model layout/);
      expect(readdirSync(out)).toEqual([]);
    } finally {
      rmSync(out, { recursive: true, force: true });
      rmSync(notAModel, { recursive: true, force: true });
    }
  });
});

describe('generate: a write that fails after generating', () => {
  it('is reported as a write error naming the path, not an internal error', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'ovis-cli-gone-'));
    const file = path.join(out, 'x.png');
    const program = new Command().exitOverride();
    const stdout = new PassThrough();
    registerGenerateCommand(program, {
      stdout,
      stderr: new PassThrough(),
      loadModel: async () => {
        rmSync(out, { recursive: true, force: true }); // the folder goes away while the model loads
        return makeModel().model;
      },
    });
    const err = await program
      .parseAsync(['generate', '-m', 'fake-model', '-p', 'x', '--width', '32', '--height', '32', '--steps', '1', '-o', file], { from: 'user' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OvisError);
    expect((err as OvisError).message).toBe(`cannot write ${file}: no such file or folder`);
    expect(existsSync(out)).toBe(false);
  });
});
