/**
 * Batches (issue 16.3): `count: k` denoises k images (seeds seed … seed+k−1) together, each equal to
 * the single-image run of its seed; also in sub-batches (the engine's split of a batch that would not
 * fit), with image-to-image, and from the CLI's --count.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OvisImage } from '../lib/ovis-image.js';
import { batchNoise } from '../lib/pipeline/batch.js';
import { decodePng } from '../lib/pipeline/png.js';
import { computeSchedule, imageTokenCount } from '../lib/pipeline/schedule.js';
import { loadPipelineParts } from '../lib/pipeline/load-parts.js';
import { parseLoadOptions } from '../lib/pipeline/options.js';
import type { PipelineParts } from '../lib/pipeline/parts.js';
import { assertBuilt, cli } from './cli-helpers.js';
import { golden, pipelineCase, relErr } from './helpers/golden-manifest.js';
import { deviceOptions, expectOnTestDevice, TEST_DEVICE, tolerance } from './helpers/test-device.js';

const c = pipelineCase('p2'); // 80×48, 3 steps, guidance 3.5 (CFG: batch 2k)
const base = { prompt: c.prompt, negativePrompt: c.negative_prompt, width: c.width, height: c.height, steps: c.steps, guidanceScale: c.guidance };
const BOUND = tolerance(1e-5);

describe(`batches (${TEST_DEVICE.label})`, () => {
  let model: OvisImage;
  beforeAll(async () => {
    model = await OvisImage.load(golden('tiny-diffusers'), deviceOptions(2));
    expectOnTestDevice(model.backend);
  });
  afterAll(async () => {
    await model?.dispose();
  });

  it('count 3 returns 3 results, each equal to the single run of its seed', async () => {
    const steps: number[] = [];
    const batch = await model.generate({ ...base, seed: 40, count: 3, onStep: (e) => steps.push(e.step) });
    expect(steps).toEqual([1, 2, 3]); // one event per step for the whole batch
    expect(batch.map((r) => r.seed)).toEqual([40n, 41n, 42n]);
    for (const [i, r] of batch.entries()) {
      const single = await model.generate({ ...base, seed: 40 + i });
      expect(relErr(r.latents, single.latents), `image ${i}`).toBeLessThanOrEqual(BOUND);
      expect(decodePng(await r.toPNG()).text.seed).toBe(String(40 + i));
    }
    expect(relErr(batch[0]!.latents, batch[1]!.latents)).toBeGreaterThan(0.1);
  });

  it('image-to-image batches and previews per image', async () => {
    const image = readFileSync(golden('img2img/i1/init.png'));
    let previews = 0;
    const batch = await model.generate({ ...base, width: undefined, height: undefined, image, strength: 0.8, seed: 7, count: 2, preview: 'latent', onStep: (e) => (previews = e.previews!.length) });
    expect(previews).toBe(2);
    for (const [i, r] of batch.entries()) {
      const single = await model.generate({ ...base, width: undefined, height: undefined, image, strength: 0.8, seed: 7 + i });
      expect(relErr(r.latents, single.latents), `image ${i}`).toBeLessThanOrEqual(BOUND);
    }
  });

  it("rejects 'count' out of range and 'noise' with count > 1", async () => {
    await expect(model.generate({ ...base, count: 0 })).rejects.toThrow(/'count' must be an integer in \[1, 64\]/);
    await expect(model.generate({ ...base, count: 2, noise: new Float32Array(16 * 10 * 6) })).rejects.toThrow(/'noise' is the noise of one image/);
  });
});

describe(`sub-batches in the engine (${TEST_DEVICE.label})`, () => {
  let parts: PipelineParts;
  beforeAll(async () => {
    parts = await loadPipelineParts(golden('tiny-diffusers'), parseLoadOptions(deviceOptions(2)));
  });
  afterAll(async () => {
    await parts?.engine.dispose();
  });

  it('a batch of 3 run as calls of at most 2 images equals the one-call batch', async () => {
    const p = await parts.tokenizer.encode(c.prompt);
    const n = await parts.tokenizer.encode(c.negative_prompt);
    const shape = [1, 16, c.height / 8, c.width / 8];
    const request = {
      ids: p.inputIds, mask: p.attentionMask, negIds: n.inputIds, negMask: n.attentionMask, tokens: p.inputIds.length, dropPrefix: parts.dropPrefix,
      noise: batchNoise(shape, 3n, 3), noiseShape: [3, ...shape.slice(1)], sigmas: computeSchedule(c.steps, imageTokenCount(c.width, c.height), parts.scheduler).sigmas,
      guidance: c.guidance, reportLatents: false,
    };
    const whole = await parts.engine.generate({ ...request, maxBatch: 3 });
    const split = await parts.engine.generate({ ...request, maxBatch: 2 });
    expect(split.latents.shape).toEqual(whole.latents.shape);
    expect(relErr(split.latents.data, whole.latents.data)).toBeLessThanOrEqual(BOUND);
    expect(split.image.shape).toEqual([3, 3, c.height, c.width]);
  });
});

describe('batches from the CLI', () => {
  beforeAll(() => assertBuilt());

  it('--count 2 writes two images, each the single run of its seed', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ovis-batch-'));
    const args = (seed: number, count: number, out: string): string[] => [
      'generate', '-m', golden('tiny-diffusers'), '-p', c.prompt, '--width', String(c.width), '--height', String(c.height), '--steps', String(c.steps),
      '--guidance', String(c.guidance), '--seed', String(seed), '--count', String(count), '-o', path.join(dir, out), '-q', '--device', TEST_DEVICE.device, '--threads', '2',
    ];
    const r = cli(args(5, 2, 'b.png').filter((a) => a !== '-q'));
    expect(r.code).toBe(0);
    // One batch: one progress line per step for both images.
    expect(r.stderr.split('\n').filter((l) => /step \d+\/\d+/.test(l))).toEqual([1, 2, 3].map((k) => expect.stringContaining(`[1-2/2] step ${k}/3`)));
    expect(r.stdout).toBe(`${path.join(dir, 'b-1.png')}\tseed=5\n${path.join(dir, 'b-2.png')}\tseed=6\n`);
    expect(cli(args(6, 1, 'single.png')).code).toBe(0);
    const a = decodePng(readFileSync(path.join(dir, 'b-2.png'))).data;
    const b = decodePng(readFileSync(path.join(dir, 'single.png'))).data;
    let close = 0;
    for (let i = 0; i < a.length; i++) if (Math.abs(a[i]! - b[i]!) <= 1) close++;
    expect(close / a.length).toBeGreaterThanOrEqual(0.999);
  });
});
