/**
 * Whole text-to-image runs on the golden tiny models against diffusers' answers (test/fixtures/golden
 * pipeline/p1..p3), from each case's seed alone, on both checkpoint layouts. Needs the CPU addon, or
 * with OVIS_TEST_DEVICE=cuda (OVIS_TEST_PRECISION fp32 | bf16) the CUDA addon and a GPU
 * (test/helpers/test-device.ts: fp32 keeps the CPU bounds, bf16 is held to 3e-2 of the reference).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortError, OvisError } from '../lib/errors.js';
import { OvisImage } from '../lib/ovis-image.js';
import { decodePng } from '../lib/pipeline/png.js';
import { randn } from '../lib/pipeline/rng.js';
import { readTensorFile, type FloatTensor } from '../lib/pipeline/tensor-file.js';
import { deviceOptions, expectOnTestDevice, TEST_DEVICE, tolerance } from './helpers/test-device.js';
import { golden, pipelineCase, pipelineOptions, relErr } from './helpers/golden-manifest.js';



const CASES = ['p1', 'p2', 'p3'] as const;
const LAYOUTS = ['tiny-diffusers', 'tiny-original'] as const;



const refs = new Map<string, Map<string, FloatTensor>>();
beforeAll(async () => {
  for (const id of CASES) refs.set(id, await readTensorFile(golden(`pipeline/${id}/io.safetensors`)));
});

for (const layout of LAYOUTS) {
  describe(`golden pipelines on ${layout} (${TEST_DEVICE.label})`, () => {
    let model: OvisImage;
    beforeAll(async () => {
      model = await OvisImage.load(golden(layout), deviceOptions(2));
      expectOnTestDevice(model.backend);
    });
    afterAll(async () => {
      await model?.dispose();
    });

    for (const id of CASES) {
      it(`${id} matches diffusers from the seed alone`, async () => {
        const c = pipelineCase(id);
        const ref = refs.get(id)!;
        expect(relErr(randn([1, 16, c.height / 8, c.width / 8], c.seed), ref.get('initial_noise')!.data)).toBeLessThan(1e-6);

        const stepLatents: Float32Array[] = [];
        const result = await model.generate({
          ...pipelineOptions(c),
          reportLatents: true,
          onStep: (e) => {
            expect(e.steps).toBe(c.steps);
            expect(e.step).toBe(stepLatents.length + 1);
            stepLatents.push(e.latents!);
          },
        });
        expect(result.seed).toBe(BigInt(c.seed));
        expect(stepLatents.length).toBe(c.steps);
        for (let i = 0; i < c.steps; i++) {
          expect(relErr(stepLatents[i]!, ref.get(`latents_step${i}`)!.data), `step ${i}`).toBeLessThanOrEqual(tolerance(1e-4));
        }
        expect(relErr(result.latents, ref.get('final_latents_packed')!.data)).toBeLessThanOrEqual(tolerance(1e-4));

        const expected = decodePng(readFileSync(golden(`pipeline/${id}/image.png`)));
        expect([result.image.width, result.image.height]).toEqual([expected.width, expected.height]);
        const png = decodePng(await result.toPNG());
        if (TEST_DEVICE.precision === 'bf16') {
          expect(relErr(png.data, expected.data), 'image').toBeLessThanOrEqual(3e-2);
        } else {
          let close = 0;
          for (let i = 0; i < expected.data.length; i++) if (Math.abs(png.data[i]! - expected.data[i]!) <= 1) close++;
          expect(close / expected.data.length).toBeGreaterThanOrEqual(0.999);
        }
        expect(png.text).toMatchObject({ prompt: c.prompt, seed: String(c.seed), steps: String(c.steps), size: `${c.width}x${c.height}` });
      });
    }
  });
}

describe(`bad input on the real engine (${TEST_DEVICE.label})`, () => {
  let model: OvisImage;
  const c = pipelineCase('p3');
  const ok = pipelineOptions(c);

  beforeAll(async () => {
    model = await OvisImage.load(golden('tiny-diffusers'), deviceOptions(2));
    expectOnTestDevice(model.backend);
  });
  afterAll(async () => {
    await model?.dispose();
  });

  async function expectUsable(m: OvisImage = model): Promise<void> {
    const r = await m.generate(ok);
    expect(relErr(r.latents, refs.get('p3')!.get('final_latents_packed')!.data)).toBeLessThanOrEqual(tolerance(1e-4));
  }

  async function expectInvalid(options: unknown, field: RegExp): Promise<void> {
    const err = await model.generate(options as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OvisError);
    expect((err as OvisError).code).toBe('OVIS_INVALID_OPTIONS');
    expect((err as OvisError).message).toMatch(field);
    await expectUsable();
  }

  it('width not a multiple of 16', () => expectInvalid({ ...ok, width: 40 }, /'width'.*multiple of 16/));
  it('height out of range', () => expectInvalid({ ...ok, height: 8192 }, /'height'.*4096/));
  it('steps 0', () => expectInvalid({ ...ok, steps: 0 }, /'steps'/));
  it('negative guidance', () => expectInvalid({ ...ok, guidanceScale: -0.5 }, /'guidanceScale'/));
  it('non-string prompt', () => expectInvalid({ ...ok, prompt: ['a', 'b'] }, /'prompt'.*string/));
  it('noise of the wrong shape', () => expectInvalid({ ...ok, seed: undefined, noise: new Float32Array(100) }, /'noise'.*256/));

  it('abort before the start', async () => {
    const c0 = new AbortController();
    c0.abort();
    await expect(model.generate({ ...ok, signal: c0.signal })).rejects.toBeInstanceOf(AbortError);
    await expectUsable();
  });

  it('abort mid-run stops within a step', async () => {
    const ctl = new AbortController();
    const seen: number[] = [];
    const p = model.generate({
      ...ok,
      steps: 200,
      onStep: (e) => {
        seen.push(e.step);
        if (e.step === 2) ctl.abort();
      },
      signal: ctl.signal,
    });
    await expect(p).rejects.toBeInstanceOf(AbortError);
    expect(seen.length).toBeLessThanOrEqual(3);
    await expectUsable();
  });

  it('dispose mid-run cancels it, later calls reject with OVIS_DISPOSED', async () => {
    const own = await OvisImage.load(golden('tiny-diffusers'), deviceOptions(2));
    let disposing: Promise<void> | undefined;
    const p = own.generate({
      ...ok,
      steps: 200,
      onStep: (e) => {
        if (e.step === 2) disposing = own.dispose();
      },
    });
    const err = await p.catch((e: unknown) => e);
    expect((err as OvisError).code).toBe('OVIS_DISPOSED');
    await disposing;
    const later = await own.generate(ok).catch((e: unknown) => e);
    expect((later as OvisError).code).toBe('OVIS_DISPOSED');
    await expectUsable(); // other models are unaffected
  });
});
