// Usage errors of `generate` through the real binary: exit 2, one line naming the flag as typed.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeTensorFile } from '../lib/pipeline/tensor-file.js';
import { assertBuilt, cli, hasStackTrace } from './cli-helpers.js';

const TINY = path.resolve('test/fixtures/golden/tiny-diffusers');
let dir: string;
beforeAll(() => {
  assertBuilt();
  dir = mkdtempSync(path.join(tmpdir(), 'ovis-cli-usage-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function generate(args: string[]): ReturnType<typeof cli> {
  return cli(['generate', '-m', TINY, '-p', 'x', '-o', path.join(dir, 'out.png'), ...args]);
}

function expectUsageError(args: string[], message: RegExp): void {
  const r = generate(args);
  expect(r.code, args.join(' ')).toBe(2);
  expect(r.stderr, args.join(' ')).toMatch(new RegExp(`^ovis-image: error: ${message.source}\\n$`));
  expect(hasStackTrace(r.stderr)).toBe(false);
}

describe('generate: bad flag values exit 2 and name the flag', () => {
  it.each([
    [['--width', 'abc'], /--width must be a multiple of 16 in \[16, 4096\] \(got abc\)/],
    [['--height', '100'], /--height must be a multiple of 16 .*\(got 100\)/],
    [['--steps', '0'], /--steps must be an integer in \[1, \d+\] \(got 0\)/],
    [['--steps', '2.5'], /--steps must be an integer .*\(got 2\.5\)/],
    [['--device', 'gpu'], /--device must be .*cuda.* \(got gpu\)/],
    [['--precision', 'fp8'], /--precision must be .*\(got fp8\)/],
    [['--threads', 'lots'], /--threads .*\(got lots\)/],
    [['--seed', '-1'], /--seed must be an integer in \[0, 2\^64 - 1\] \(got -1\)/],
    [['--count', '0'], /--count must be an integer in \[1, 10000\] \(got 0\)/],
  ])('%j', (args, message) => expectUsageError(args, message));

  it('prints NaN and ±Infinity as typed, never "null" nor the API field', () => {
    for (const value of ['NaN', 'Infinity', '-Infinity']) {
      const r = generate([`--guidance=${value}`]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`ovis-image: error: --guidance must be a number in [0, 100] (got ${value})\n`);
    }
    const width = generate(['--width', 'NaN']);
    expect(width.stderr).toMatch(/--width .*\(got NaN\)/);
    for (const r of [width, generate(['--device', 'gpu'])]) expect(r.stderr).not.toMatch(/null|guidanceScale|'width'|'device'|load:/);
  });

  it('--seed with --noise is a usage error', () => {
    const noise = path.join(dir, 'noise.safetensors');
    writeFileSync(noise, encodeTensorFile({ noise: { shape: [1, 16, 4, 4], data: new Float32Array(256) } }));
    expectUsageError(['--seed', '7', '--noise', noise], /--seed and --noise cannot be used together.*/);
  });

  it('split files name the missing flags, not API fields', () => {
    const r = cli(['generate', '-p', 'x', '--transformer', path.join(TINY, 'transformer'), '-o', path.join(dir, 'split.png')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('ovis-image: error: split files need --text-encoder, --vae too (or give a model folder with -m)\n');
    const gone = cli(['info', '--transformer', path.join(dir, 'nope.safetensors')]);
    expect(gone.code).toBe(2);
    expect(gone.stderr).toMatch(/^ovis-image: error: --transformer .*nope\.safetensors: no such file or folder\n$/);
  });
});

describe('generate --noise: what is wrong with the file', () => {
  it('a noise size that is no multiple of 16 pixels says it came from the noise file', () => {
    const noise = path.join(dir, 'odd.safetensors');
    writeFileSync(noise, encodeTensorFile({ noise: { shape: [1, 16, 5, 4], data: new Float32Array(320) } }));
    expectUsageError(['--noise', noise], /--noise .*odd\.safetensors: shape \[1, 16, 5, 4\] is for 32×40 pixels, but width and height must be multiples of 16.*/);
  });

  it('a device or FIFO as --noise is refused, not read forever', () => {
    expectUsageError(['--noise', '/dev/zero'], /--noise \/dev\/zero: not a regular file: it is a device.*/);
  });
});
