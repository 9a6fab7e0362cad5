// `generate --noise <file>` reads the file with the model loader's safetensors parser: every bad
// file is a one-line error naming it, through the real CLI binary, before any model is loaded.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeTensorFile, readNoiseFile } from '../lib/pipeline/tensor-file.js';
import { assertBuilt, cli, hasStackTrace } from './cli-helpers.js';
import { TINY_DIFFUSERS, removeTempDirs, tempDir } from './model-helpers.js';

let dir: string;
beforeAll(() => {
  assertBuilt();
  dir = tempDir('noise');
});
afterAll(removeTempDirs);

/** A safetensors file from a raw header object and data bytes. */
function rawFile(name: string, header: unknown, data = Buffer.alloc(0)): string {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const file = path.join(dir, name);
  writeFileSync(file, Buffer.concat([len, json, data]));
  return file;
}

/** Runs generate with the noise file; the command must fail before loading, with one clean line. */
function refuse(file: string): string {
  const r = cli(['generate', '-m', TINY_DIFFUSERS, '-p', 'x', '--steps', '1', '--noise', file, '-o', path.join(dir, 'out.png')]);
  expect(r.code, r.stderr).not.toBe(0);
  expect(hasStackTrace(r.stderr)).toBe(false);
  expect(r.stderr).not.toContain('internal error');
  expect(r.stderr).toContain(`--noise ${file}`);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  return r.stderr;
}

describe('--noise files', () => {
  it('a file without "noise" says what was expected and lists a few names', () => {
    const tensors = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`some.rather.long.tensor.name.number.${i}`, { shape: [1], data: new Float32Array(1) }]));
    const err = refuse(path.join(dir, 'many.safetensors'));
    expect(err).toContain('cannot open'); // not written yet: the missing file is named too
    writeFileSync(path.join(dir, 'many.safetensors'), encodeTensorFile(tensors));
    const msg = refuse(path.join(dir, 'many.safetensors'));
    expect(msg).toContain('no tensor named "noise"');
    expect(msg).toContain('[1, 16, H/8, W/8]');
    expect(msg).toContain('300 tensor(s)');
    expect(msg.length).toBeLessThan(600);
  });

  it('missing "shape" or "data_offsets", negative offsets', () => {
    expect(refuse(rawFile('noshape.safetensors', { noise: { dtype: 'F32', data_offsets: [0, 4] } }, Buffer.alloc(4)))).toContain('"shape"');
    expect(refuse(rawFile('nooffsets.safetensors', { noise: { dtype: 'F32', shape: [1] } }, Buffer.alloc(4)))).toContain('"data_offsets"');
    expect(refuse(rawFile('negative.safetensors', { noise: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] } }, Buffer.alloc(4)))).toContain('"data_offsets"');
  });

  it('a size that is not a multiple of 16 pixels is blamed on the noise file', () => {
    writeFileSync(path.join(dir, 'odd.safetensors'), encodeTensorFile({ noise: { shape: [1, 16, 3, 5], data: new Float32Array(16 * 15) } }));
    const msg = refuse(path.join(dir, 'odd.safetensors'));
    expect(msg).toContain('noise file');
    expect(msg).toContain('multiples of 16');
  });

  it('non-finite noise values are refused', () => {
    const data = new Float32Array(16 * 4 * 4);
    data[7] = Number.NaN;
    writeFileSync(path.join(dir, 'nan.safetensors'), encodeTensorFile({ noise: { shape: [1, 16, 4, 4], data } }));
    expect(refuse(path.join(dir, 'nan.safetensors'))).toContain('NaN at index 7');
  });

  it('a FIFO and /dev/zero are refused without reading', () => {
    const fifo = path.join(dir, 'fifo.safetensors');
    execFileSync('mkfifo', [fifo]);
    expect(refuse(fifo)).toContain('FIFO');
    expect(refuse('/dev/zero')).toContain('device');
  });

  it('a good file reads back', async () => {
    const data = new Float32Array(16 * 2 * 4).map((_, i) => i / 7);
    writeFileSync(path.join(dir, 'good.safetensors'), encodeTensorFile({ other: { shape: [2], data: new Float32Array(2) }, noise: { shape: [1, 16, 2, 4], data } }));
    const noise = await readNoiseFile(path.join(dir, 'good.safetensors'));
    expect(noise.shape).toEqual([1, 16, 2, 4]);
    expect(noise.data).toEqual(data);
  });
});
