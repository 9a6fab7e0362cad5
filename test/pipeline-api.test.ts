/**
 * OvisImage's own behaviour (queueing, abort, dispose, events, image conversion) on a fake engine, so
 * it runs without the native addon. The real engine is covered by pipeline-golden.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { AbortError, OvisError } from '../lib/errors.js';
import type { GenerateEvent, OvisImage } from '../lib/ovis-image.js';
import { decodePng } from '../lib/pipeline/png.js';
import { randn } from '../lib/pipeline/rng.js';
import { fakeTokenizer, makeModel, sleep } from './pipeline-fakes.js';

const small = { prompt: 'a cat', width: 32, height: 48, steps: 3 } as const;

async function expectUsable(model: OvisImage): Promise<void> {
  const r = await model.generate({ ...small, seed: 1 });
  expect(r.image.data.length).toBe(32 * 48 * 3);
}

async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

describe('OvisImage (fake engine)', () => {
  it('builds the native request from the options', async () => {
    const { model, engine } = makeModel();
    const r = await model.generate({ ...small, seed: 42, negativePrompt: 'blurry', guidanceScale: 3.5 });
    const req = engine.requests[0]!;
    expect(req.noiseShape).toEqual([1, 16, 6, 4]);
    expect(req.noise).toEqual(randn([1, 16, 6, 4], 42));
    expect(req.sigmas.length).toBe(4);
    expect(req.sigmas[0]).toBe(1);
    expect(req.sigmas[3]).toBe(0);
    expect(req.guidance).toBe(3.5);
    expect(req.tokens).toBe(284);
    expect(req.dropPrefix).toBe(28);
    expect(req.negIds).toEqual(fakeTokenizer.encode('blurry').inputIds);
    expect(r.seed).toBe(42n);
    expect(r.timings).toMatchObject({ textMs: 1, denoiseMs: 2, decodeMs: 3 });
    expect(r.promptTruncated).toBe(false);
  });

  it('skips the negative pass when guidance <= 1', async () => {
    const { model, engine } = makeModel();
    await model.generate({ ...small, guidanceScale: 1 });
    expect(engine.requests[0]!.negIds).toBeUndefined();
    expect(engine.requests[0]!.negMask).toBeUndefined();
  });

  it('uses given noise instead of the RNG', async () => {
    const { model, engine } = makeModel();
    const noise = new Float32Array(16 * 6 * 4).fill(0.25);
    const r = await model.generate({ ...small, noise });
    expect(engine.requests[0]!.noise).toEqual(noise);
    expect(r.seed).toBeNull();
  });

  it('draws a random 64-bit seed and reports it', async () => {
    const { model, engine } = makeModel();
    const r = await model.generate(small);
    expect(typeof r.seed).toBe('bigint');
    expect(engine.requests[0]!.noise).toEqual(randn([1, 16, 6, 4], r.seed!));
  });

  it('converts [-1, 1] CHW to RGB8 HWC and writes a PNG with metadata', async () => {
    const { model } = makeModel();
    const noise = new Float32Array(16 * 6 * 4);
    noise[0] = -1; // R of the top-left block
    noise[24] = 0; // G
    noise[48] = 2; // B (clamped)
    noise[1] = 0.5; // R of the next block: (0.5 + 1) / 2 * 255 = 191.25
    const r = await model.generate({ ...small, noise, prompt: '一只猫' });
    expect(Array.from(r.image.data.subarray(0, 3))).toEqual([0, 128, 255]);
    expect(r.image.data[8 * 3]).toBe(191);
    const png = decodePng(await r.toPNG());
    expect(png.width).toBe(32);
    expect(png.height).toBe(48);
    expect(Buffer.from(png.data).equals(Buffer.from(r.image.data))).toBe(true);
    expect(png.text).toMatchObject({
      prompt: '一只猫',
      negative_prompt: '',
      steps: '3',
      guidance: '5',
      seed: 'custom noise',
      size: '32x48',
      sampler: 'euler (flow matching)',
      model: 'fake-model',
    });
  });

  it('calls onStep after every step and streams events', async () => {
    const { model } = makeModel();
    const seen: number[] = [];
    await model.generate({ ...small, onStep: (e) => seen.push(e.step) });
    expect(seen).toEqual([1, 2, 3]);

    const events: GenerateEvent[] = [];
    for await (const e of model.stream({ ...small, seed: 5 })) events.push(e);
    expect(events.map((e) => e.type)).toEqual(['step', 'step', 'step', 'result']);
    const first = events[0] as Extract<GenerateEvent, { type: 'step' }>;
    expect(first).toMatchObject({ step: 1, steps: 3, sigma: 1 });
    expect(first.elapsedMs).toBeGreaterThanOrEqual(0);
    const last = events[3] as Extract<GenerateEvent, { type: 'result' }>;
    expect(last.result.seed).toBe(5n);
  });

  it('reports per-step latents when asked', async () => {
    const { model } = makeModel();
    const got: (Float32Array | undefined)[] = [];
    await model.generate({ ...small, reportLatents: true, onStep: (e) => got.push(e.latents) });
    expect(got.map((l) => l?.length)).toEqual([6 * 64, 6 * 64, 6 * 64]);
  });

  it('stops and rejects with what a throwing onStep threw', async () => {
    const { model, engine } = makeModel();
    const boom = new Error('boom');
    const p = model.generate({
      ...small,
      steps: 20,
      onStep: (e) => {
        if (e.step === 2) throw boom;
      },
    });
    await expect(p).rejects.toBe(boom);
    expect(engine.log.at(-1)).toBe('cancelled 1');
    await expectUsable(model);
  });

  it('runs concurrent calls one after another in call order', async () => {
    const { model, engine } = makeModel();
    const results = await Promise.all([1, 2, 3].map((seed) => model.generate({ ...small, seed })));
    expect(results.map((r) => r.seed)).toEqual([1n, 2n, 3n]);
    expect(engine.log).toEqual(['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3']);
  });

  it('rejects bad options with OVIS_INVALID_OPTIONS and stays usable', async () => {
    const { model } = makeModel();
    const bad: unknown[] = [
      { prompt: 'x', width: 100 },
      { prompt: 'x', height: 8192 },
      { prompt: 'x', steps: 0 },
      { prompt: 'x', guidanceScale: -1 },
      { prompt: 7 },
      { prompt: 'x', width: 32, height: 32, noise: new Float32Array(10) },
    ];
    for (const o of bad) {
      const e = await rejection(model.generate(o as never));
      expect(e).toBeInstanceOf(OvisError);
      expect(e.code).toBe('OVIS_INVALID_OPTIONS');
    }
    await expectUsable(model);
  });

  it('rejects at once when aborted before the start', async () => {
    const { model, engine } = makeModel();
    const c = new AbortController();
    c.abort();
    const e = await rejection(model.generate({ ...small, signal: c.signal }));
    expect(e).toBeInstanceOf(AbortError);
    expect(e.code).toBe('ABORT_ERR');
    expect(engine.requests.length).toBe(0);
    await expectUsable(model);
  });

  it('stops within a step when aborted mid-run', async () => {
    const { model, engine } = makeModel();
    engine.stepMs = 20;
    const c = new AbortController();
    const steps: number[] = [];
    const p = model.generate({ ...small, steps: 50, signal: c.signal, onStep: (e) => steps.push(e.step) });
    await sleep(50);
    c.abort();
    const e = await rejection(p);
    expect(e).toBeInstanceOf(AbortError);
    expect(steps.length).toBeLessThan(10);
    expect(engine.log.at(-1)).toBe('cancelled 1');
    await expectUsable(model);
  });

  it('drops an aborted call that waits in the queue', async () => {
    const { model, engine } = makeModel();
    const c = new AbortController();
    const first = model.generate({ ...small, steps: 10 });
    const second = model.generate({ ...small, signal: c.signal });
    c.abort();
    expect(await rejection(second)).toBeInstanceOf(AbortError);
    await first;
    expect(engine.requests.length).toBe(1);
  });

  it('cancels on dispose mid-run and rejects later calls with OVIS_DISPOSED', async () => {
    const { model, engine } = makeModel();
    engine.stepMs = 20;
    const running = rejection(model.generate({ ...small, steps: 50 }));
    const queued = rejection(model.generate({ ...small, steps: 2 }));
    await sleep(50);
    await model.dispose();
    const e1 = await running;
    expect(e1).toBeInstanceOf(OvisError);
    expect(e1.code).toBe('OVIS_DISPOSED');
    expect((await queued).code).toBe('OVIS_DISPOSED');
    expect(engine.log).toContain('cancelled 1');
    expect(engine.requests.length).toBe(1);
    const e2 = await rejection(model.generate(small));
    expect(e2.code).toBe('OVIS_DISPOSED');
    expect(e2.message).toMatch(/disposed/);
    expect(model.disposed).toBe(true);
    await model.dispose(); // idempotent
  });

  it('supports await using', async () => {
    const { model, engine } = makeModel();
    {
      await using m = model;
      await m.generate(small);
    }
    expect(engine.log.at(-1)).toBe('disposed');
  });

  it('cancels when a stream consumer stops early', async () => {
    const { model, engine } = makeModel();
    engine.stepMs = 10;
    for await (const e of model.stream({ ...small, steps: 50 })) {
      if (e.type === 'step' && e.step === 2) break;
    }
    await expectUsable(model);
    expect(engine.log).toContain('cancelled 1');
  });

  it('stream reports failures by throwing', async () => {
    const { model } = makeModel();
    await expect(async () => {
      for await (const _ of model.stream({ prompt: 'x', steps: 0 })) void _;
    }).rejects.toMatchObject({ code: 'OVIS_INVALID_OPTIONS' });
  });
});
