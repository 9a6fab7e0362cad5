/**
 * Live previews (issue 16.2) on the golden tiny model: 'vae' previews decode x̂0 (the last one is the
 * final image), 'latent' previews are the FLUX.1 latent→RGB projection of the step's latents, both
 * through onStep and stream(), and the CLI's --preview file.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OvisImage } from '../lib/ovis-image.js';
import type { StepEvent } from '../lib/pipeline/options.js';
import { decodePng, type RgbImage } from '../lib/pipeline/png.js';
import { assertBuilt, cli } from './cli-helpers.js';
import { golden, pipelineCase, pipelineOptions } from './helpers/golden-manifest.js';
import { deviceOptions, expectOnTestDevice, TEST_DEVICE } from './helpers/test-device.js';

const c = pipelineCase('p1'); // 64×64, 4 steps, guidance 5
const base = pipelineOptions(c);

// The published FLUX.1 latent→RGB factors (ComfyUI comfy/latent_formats.py, class Flux), typed here
// again so the test checks the engine's table, not itself.
const FACTORS = [
  [-0.0346, 0.0244, 0.0681], [0.0034, 0.021, 0.0687], [0.0275, -0.0668, -0.0433], [-0.0174, 0.016, 0.0617],
  [0.0859, 0.0721, 0.0329], [0.0004, 0.0383, 0.0115], [0.0405, 0.0861, 0.0915], [-0.0236, -0.0185, -0.0259],
  [-0.0245, 0.025, 0.118], [0.1008, 0.0755, -0.0421], [-0.0515, 0.0201, 0.0011], [0.0428, -0.0012, -0.0036],
  [0.0817, 0.0765, 0.0749], [-0.1264, -0.0522, -0.1103], [-0.028, -0.0881, -0.0499], [-0.1262, -0.0982, -0.0778],
];
const BIAS = [-0.0329, -0.0718, -0.0851];

/** Packed latents [L, 64] of an h×w latent → RGB8 at h×w, mapped like the decoded image. */
function project(packed: Float32Array, h: number, w: number): Uint8Array {
  const out = new Uint8Array(h * w * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const row = ((y >> 1) * (w / 2) + (x >> 1)) * 64 + (y % 2) * 2 + (x % 2);
      for (let rgb = 0; rgb < 3; rgb++) {
        let v = BIAS[rgb]!;
        for (let ch = 0; ch < 16; ch++) v += packed[row + ch * 4]! * FACTORS[ch]![rgb]!;
        out[(y * w + x) * 3 + rgb] = Math.round(Math.min(1, Math.max(0, v / 2 + 0.5)) * 255);
      }
    }
  return out;
}

function maxDiff(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe(`previews (${TEST_DEVICE.label})`, () => {
  let model: OvisImage;
  beforeAll(async () => {
    model = await OvisImage.load(golden('tiny-diffusers'), deviceOptions(2));
    expectOnTestDevice(model.backend);
  });
  afterAll(async () => {
    await model?.dispose();
  });

  it("'vae' with previewEvery 1: a full-size preview each step, the last one equal to the final image", async () => {
    const previews: RgbImage[] = [];
    const r = await model.generate({ ...base, preview: 'vae', previewEvery: 1, onStep: (e) => previews.push(e.preview!) });
    expect(previews.length).toBe(c.steps);
    for (const p of previews) expect([p.width, p.height]).toEqual([c.width, c.height]);
    expect(Buffer.from(previews.at(-1)!.data).equals(Buffer.from(r.image.data))).toBe(true);
    expect(Buffer.from(previews[0]!.data).equals(Buffer.from(r.image.data))).toBe(false);
  });

  it("'latent' every 2nd step: the projection of that step's latents at 1/8 size", async () => {
    const seen: StepEvent[] = [];
    await model.generate({ ...base, preview: 'latent', previewEvery: 2, reportLatents: true, onStep: (e) => seen.push(e) });
    expect(seen.map((e) => e.preview !== undefined)).toEqual([false, true, false, true]);
    for (const e of seen.filter((s) => s.preview)) {
      expect([e.preview!.width, e.preview!.height]).toEqual([c.width / 8, c.height / 8]);
      expect(maxDiff(e.preview!.data, project(e.latents!, c.height / 8, c.width / 8))).toBeLessThanOrEqual(1);
    }
  });

  it('stream() step events carry the previews; no preview option, no previews', async () => {
    const withPreview: boolean[] = [];
    for await (const e of model.stream({ ...base, preview: 'latent' })) if (e.type === 'step') withPreview.push(e.preview !== undefined);
    expect(withPreview).toEqual([true, true, true, true]);
    const without: boolean[] = [];
    await model.generate({ ...base, onStep: (e) => without.push(e.preview !== undefined) });
    expect(without).toEqual([false, false, false, false]);
  });

  it('rejects bad preview options', async () => {
    await expect(model.generate({ ...base, preview: 'fast' as never })).rejects.toThrow(/'preview' must be false, 'latent' or 'vae'/);
    await expect(model.generate({ ...base, preview: 'vae', previewEvery: 0 })).rejects.toThrow(/'previewEvery' must be an integer >= 1/);
  });
});

describe('previews from the CLI', () => {
  beforeAll(() => assertBuilt());

  it('--preview writes the file atomically; with vae previews every step it ends as the final image', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ovis-preview-'));
    const out = path.join(dir, 'out.png');
    const preview = path.join(dir, 'live.png');
    const args = ['generate', '-m', golden('tiny-diffusers'), '-p', c.prompt, '--width', '64', '--height', '64', '--steps', '3'];
    args.push('--seed', '9', '-o', out, '-q', '--preview', preview, '--preview-mode', 'vae', '--device', TEST_DEVICE.device, '--threads', '2');
    const r = cli(args);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['live.png', 'out.png']); // no temporary files left
    expect(Buffer.from(decodePng(readFileSync(preview)).data).equals(Buffer.from(decodePng(readFileSync(out)).data))).toBe(true);
  });

  it('--preview-mode without --preview, and a --preview that is not .png, are usage errors', () => {
    const r = cli(['generate', '-m', golden('tiny-diffusers'), '-p', 'x', '--preview-mode', 'vae', '-q']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--preview-mode and --preview-every need --preview/);
    const jpg = cli(['generate', '-m', golden('tiny-diffusers'), '-p', 'x', '--preview', 'live.jpg', '-q']);
    expect(jpg.code).toBe(2);
    expect(jpg.stderr).toMatch(/--preview must name a .png file \(got live.jpg\)/);
  });
});
