/**
 * Tiled VAE (`vaeTiling`, CLI --vae-tile / --vae-tile-overlap) against diffusers' tiled_decode /
 * _tiled_encode on the golden tiny model: vae_tiled/vt1 through the addon, pipeline/pt1 from the API and
 * from the CLI process; option errors name the field (API) or the flag (CLI) and load nothing.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OvisError } from '../lib/errors.js';
import { NativeModelEngine } from '../lib/native/engine.js';
import { OvisImage } from '../lib/ovis-image.js';
import { toRgb8 } from '../lib/pipeline/image.js';
import { decodePng, type RgbImage } from '../lib/pipeline/png.js';
import { readTensorFile, type FloatTensor } from '../lib/pipeline/tensor-file.js';
import { parseGenerateOptions } from '../lib/pipeline/options.js';
import { closeShare, golden, pipelineCase, pipelineOptions } from './helpers/golden-manifest.js';
import type { NativeVaeTiling } from '../types/native.js';
import { GOLDEN, relErr, tinyPlanText } from './native-helpers.js';

const pt1 = pipelineCase('pt1');
const pt1Options = pipelineOptions(pt1);
// float32, as the engine computes z / scale + shift
const VAE_SCALE = Math.fround(0.3611);
const VAE_SHIFT = Math.fround(0.1159);

/** Packed latents [1, (h/2)(w/2), 64] -> raw VAE latent [1, 16, h, w] (scaling and shift undone). */
function rawLatent(packed: Float32Array, h: number, w: number): { data: Float32Array; shape: number[] } {
  const out = new Float32Array(16 * h * w);
  let k = 0;
  for (let r = 0; r < h / 2; r++)
    for (let c = 0; c < w / 2; c++)
      for (let ch = 0; ch < 16; ch++)
        for (let dy = 0; dy < 2; dy++)
          for (let dx = 0; dx < 2; dx++) out[ch * h * w + (2 * r + dy) * w + 2 * c + dx] = Math.fround(Math.fround(packed[k++]! / VAE_SCALE) + VAE_SHIFT);
  return { data: out, shape: [1, 16, h, w] };
}
const TILE_128 = { mode: 'fixed', tile: 128, overlap: 0.25 } as const;

/** Share of the values of `got` within ±1 of `expected`, same size. */
function closeTo(got: RgbImage, expected: RgbImage): number {
  expect([got.width, got.height]).toEqual([expected.width, expected.height]);
  return closeShare(got.data, expected.data);
}

/** [1, 2C, h, w] -> channels [from, from + C). */
function channels(t: FloatTensor, from: number): Float32Array {
  const [, c2, h, w] = t.shape as [number, number, number, number];
  return t.data.slice(from * h * w, (from + c2 / 2) * h * w);
}

describe('vaeTiling through the addon (vae_tiled/vt1)', () => {
  let engine: NativeModelEngine;
  let io: Map<string, FloatTensor>;
  beforeAll(async () => {
    engine = await NativeModelEngine.create(await tinyPlanText(), { device: 'cpu', threads: 2 });
    io = await readTensorFile(path.join(GOLDEN, 'vae_tiled', 'vt1', 'io.safetensors'));
  });
  afterAll(async () => {
    await engine?.dispose();
  });

  it('decodes like diffusers tiled_decode at 128 px, overlap 0.25', async () => {
    const out = await engine.vaeDecode(io.get('latent')!, undefined, TILE_128);
    expect(out.shape).toEqual([1, 3, 192, 320]);
    expect(relErr(out.data, io.get('decoded_tiled')!.data)).toBeLessThan(1e-5);
  });

  it('encodes like diffusers _tiled_encode (mean and logvar)', async () => {
    const { mean, logvar } = await engine.vaeEncode(io.get('image')!, undefined, TILE_128);
    const ref = io.get('encoded_tiled_moments')!;
    expect(relErr(mean.data, channels(ref, 0))).toBeLessThan(1e-5);
    expect(relErr(logvar.data, channels(ref, 16))).toBeLessThan(1e-5);
  });

  it("pt1: the reference's final latents decode tiled to its image (±1 on >= 99.9%)", async () => {
    const ref = await readTensorFile(golden('pipeline/pt1/io.safetensors'));
    const z = rawLatent(ref.get('final_latents_packed')!.data, pt1.height / 8, pt1.width / 8);
    const image = toRgb8((await engine.vaeDecode(z, undefined, TILE_128)).data, pt1.width, pt1.height);
    expect(closeTo(image, decodePng(readFileSync(golden('pipeline/pt1/image.png'))))).toBeGreaterThanOrEqual(0.999);
  });

  it("'auto' and 'off' decode the whole image here (it fits), as before", async () => {
    const whole = await engine.vaeDecode(io.get('latent')!, undefined, { mode: 'off', tile: 0, overlap: 0.25 });
    const auto = await engine.vaeDecode(io.get('latent')!);
    expect(auto.data).toEqual(whole.data);
    expect(relErr(whole.data, io.get('decoded_tiled')!.data)).toBeGreaterThan(1e-2);
  });

  it('refuses strides that are not whole latents with a typed error; the engine stays usable', async () => {
    const err = await engine.vaeDecode(io.get('latent')!, undefined, { mode: 'fixed', tile: 128, overlap: 0.3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OvisError);
    expect((err as OvisError).code).toBe('OVIS_BAD_ARGUMENT');
    expect((err as OvisError).message).toMatch(/multiple of 8/);
    expect((await engine.vaeDecode(io.get('latent')!, undefined, TILE_128)).shape).toEqual([1, 3, 192, 320]);
  });
});

describe('vaeTiling from the API: pt1-sized runs decode as the addon tiles', () => {
  let model: OvisImage;
  let engine: NativeModelEngine;
  beforeAll(async () => {
    model = await OvisImage.load(golden('tiny-diffusers'), { device: 'cpu', threads: 2 });
    engine = await NativeModelEngine.create(await tinyPlanText(), { device: 'cpu', threads: 2 });
  });
  afterAll(async () => {
    await model?.dispose();
    await engine?.dispose();
  });

  /** The run's own final latents through the addon's VAE with `tiling`, as RGB8. */
  async function decodeLatents(latents: Float32Array, tiling: NativeVaeTiling): Promise<Uint8Array> {
    const z = rawLatent(latents, pt1.height / 8, pt1.width / 8);
    const image = await engine.vaeDecode(z, undefined, tiling);
    return toRgb8(image.data, pt1.width, pt1.height).data;
  }

  it('{ tile: 128 } (overlap 0.25 by default) decodes the final latents tiled', async () => {
    const result = await model.generate({ ...pt1Options, vaeTiling: { tile: 128 } });
    expect(result.options.vaeTiling).toEqual({ tile: 128, overlap: 0.25 });
    expect(result.image.data).toEqual(await decodeLatents(result.latents, TILE_128));
  });

  it("the default 'auto' keeps the whole-image decode when it fits; tiling changes the image", async () => {
    const result = await model.generate(pt1Options);
    const whole = await decodeLatents(result.latents, { mode: 'off', tile: 0, overlap: 0.25 });
    expect(result.image.data).toEqual(whole);
    expect(whole).not.toEqual(await decodeLatents(result.latents, TILE_128));
  });

  it("'vae' previews decode with the same tiling: the last preview is the tiled final image", async () => {
    const previews: RgbImage[] = [];
    const result = await model.generate({ ...pt1Options, vaeTiling: { tile: 128 }, preview: 'vae', previewEvery: 1, onStep: (e) => previews.push(e.preview!) });
    expect(previews.length).toBe(pt1.steps);
    expect(previews.at(-1)!.data).toEqual(result.image.data);
    expect(previews.at(-1)!.data).not.toEqual(await decodeLatents(result.latents, { mode: 'off', tile: 0, overlap: 0.25 }));
  });

  it("image-to-image encodes its start image with the tiling (tiled and whole encodes start elsewhere)", async () => {
    const start = { ...pt1Options, image: readFileSync(golden('pipeline/pt1/image.png')), strength: 1 };
    const tiled = await model.generate({ ...start, vaeTiling: { tile: 128 } });
    const whole = await model.generate({ ...start, vaeTiling: false });
    // Strength 1 starts from pure noise: the encode is unused and both runs agree (latents are pre-decode).
    expect(tiled.latents).toEqual(whole.latents);
    const tiledHalf = await model.generate({ ...start, strength: 0.5, vaeTiling: { tile: 128 } });
    const wholeHalf = await model.generate({ ...start, strength: 0.5, vaeTiling: false });
    expect(relErr(tiledHalf.latents, wholeHalf.latents)).toBeGreaterThan(1e-4);
  });
});

describe('vaeTiling option errors', () => {
  const base = { prompt: 'x', width: 64, height: 64 };
  const cases: [unknown, RegExp][] = [
    ['yes', /'vaeTiling' must be false, 'auto' or \{ tile, overlap \} \(got "yes"\)/],
    [true, /'vaeTiling' must be false, 'auto'/],
    [{ tile: 100 }, /'vaeTiling.tile' must be a multiple of 8 in \[16, 65536\] px/],
    [{ tile: 128, overlap: 1 }, /'vaeTiling.overlap' must be a number in \[0, 1\)/],
    [{ tile: 128, overlap: 0.3 }, /'vaeTiling.overlap' with tile 128 gives strides of 89.6 px/],
    [{ tile: 128, size: 2 }, /'vaeTiling' has unknown field 'size'/],
  ];
  for (const [value, message] of cases) {
    it(`refuses ${JSON.stringify(value)}`, () => {
      let err: unknown;
      try {
        parseGenerateOptions({ ...base, vaeTiling: value });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(OvisError);
      expect((err as OvisError).code).toBe('OVIS_INVALID_OPTIONS');
      expect((err as OvisError).message).toMatch(message);
    });
  }

  it('accepts false, auto and tiles, filling in the overlap', () => {
    expect(parseGenerateOptions(base).vaeTiling).toBe('auto');
    expect(parseGenerateOptions({ ...base, vaeTiling: false }).vaeTiling).toBe(false);
    expect(parseGenerateOptions({ ...base, vaeTiling: { tile: 256 } }).vaeTiling).toEqual({ tile: 256, overlap: 0.25 });
    expect(parseGenerateOptions({ ...base, vaeTiling: { tile: 64, overlap: 0.5 } }).vaeTiling).toEqual({ tile: 64, overlap: 0.5 });
  });
});

const bin = fileURLToPath(new URL('../bin/ovis-image.js', import.meta.url));
const built = existsSync(fileURLToPath(new URL('../dist/cli/main.js', import.meta.url)));
const run = promisify(execFile);

describe.skipIf(!built)('ovis-image generate --vae-tile (the real CLI process)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'ovis-vae-tile-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const pt1Args = ['-p', pt1.prompt, '--width', String(pt1.width), '--height', String(pt1.height), '--steps', String(pt1.steps), '--guidance', String(pt1.guidance), '--seed', String(pt1.seed), '--device', 'cpu', '--threads', '2', '-q'];

  /** The API's image for the pt1 parameters with `vaeTiling`. */
  async function apiImage(vaeTiling: false | { tile: number; overlap: number }): Promise<RgbImage> {
    const model = await OvisImage.load(golden('tiny-diffusers'), { device: 'cpu', threads: 2 });
    try {
      return (await model.generate({ ...pt1Options, vaeTiling })).image;
    } finally {
      await model.dispose();
    }
  }

  it('--vae-tile 128 --vae-tile-overlap 0.25 gives the API\'s tiled image; --vae-tile off its whole decode', async () => {
    const tiled = path.join(dir, 'tiled.png');
    const whole = path.join(dir, 'whole.png');
    await run(process.execPath, [bin, 'generate', '-m', golden('tiny-diffusers'), ...pt1Args, '--vae-tile', '128', '--vae-tile-overlap', '0.25', '-o', tiled]);
    await run(process.execPath, [bin, 'generate', '-m', golden('tiny-diffusers'), ...pt1Args, '--vae-tile', 'off', '-o', whole]);
    const tiledPng = decodePng(await readFile(tiled));
    const wholePng = decodePng(await readFile(whole));
    expect(closeTo(tiledPng, await apiImage({ tile: 128, overlap: 0.25 }))).toBeGreaterThanOrEqual(0.999);
    expect(closeTo(wholePng, await apiImage(false))).toBeGreaterThanOrEqual(0.999);
    expect(closeTo(tiledPng, wholePng)).toBeLessThan(0.999);
  });

  const usage: [string[], RegExp][] = [
    [['--vae-tile', '100'], /--vae-tile must be a multiple of 8 in \[16, 65536\] px \(got 100\)/],
    [['--vae-tile', 'big'], /--vae-tile must be a multiple of 8/],
    [['--vae-tile', '128', '--vae-tile-overlap', '1.5'], /--vae-tile-overlap must be a number in \[0, 1\) \(got 1.5\)/],
    [['--vae-tile', '128', '--vae-tile-overlap', '0.3'], /--vae-tile .*strides of 89.6 px/],
    [['--vae-tile-overlap', '0.5'], /--vae-tile-overlap needs --vae-tile <px>/],
    [['--vae-tile', 'off', '--vae-tile-overlap', '0.5'], /--vae-tile-overlap applies to a tile size in pixels/],
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
