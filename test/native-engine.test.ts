/**
 * NativeModelEngine (lib/native/engine.ts) on the real addon and the golden tiny model: loading,
 * numbers against the reference, AbortSignal handling, its own queue, error mapping, dispose.
 * Needs the built addon (npm run build:native); with OVIS_TEST_DEVICE=cuda (OVIS_TEST_PRECISION fp32 |
 * bf16) the CUDA addon and a GPU instead (test/helpers/test-device.ts).
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortError, OvisError } from '../lib/errors.js';
import { NativeModelEngine } from '../lib/native/engine.js';
import { readTensorFile, type FloatTensor } from '../lib/pipeline/tensor-file.js';
import { deviceOptions, expectOnTestDevice, TEST_DEVICE, tolerance } from './helpers/test-device.js';
import { GOLDEN, noise, rejection, relErr, tinyPlanText, tinyRequest } from './native-helpers.js';

let engine: NativeModelEngine;

beforeAll(async () => {
  engine = await NativeModelEngine.create(await tinyPlanText(), deviceOptions(1));
});

afterAll(async () => {
  await engine?.dispose();
});

const z = (seed = 1) => ({ data: noise(16 * 4, seed), shape: [1, 16, 2, 2] });

/** Starts a long generate and resolves once its first step has been reported. */
// Many steps, so that it is still running when the test reacts to its first step even on a busy machine.
function longGenerate(e: NativeModelEngine, signal?: AbortSignal, total = 3000): { done: Promise<unknown>; firstStep: Promise<void>; steps: number[] } {
  const steps: number[] = [];
  let started!: () => void;
  const firstStep = new Promise<void>((resolve) => (started = resolve));
  const done = e.generate(tinyRequest({ steps: total }), (ev) => {
    steps.push(ev.step);
    started();
  }, { signal });
  return { done, firstStep, steps };
}

describe(`NativeModelEngine on the golden tiny model (${TEST_DEVICE.label})`, () => {
  it('loads a plan from lib/model and reports the backend', () => {
    expectOnTestDevice(engine.backendName);
    expect(engine.disposed).toBe(false);
  });

  it('matches the reference MMDiT forward (transformer/t1)', async () => {
    const io = await readTensorFile(path.join(GOLDEN, 'transformer', 't1', 'io.safetensors'));
    const get = (k: string): FloatTensor => io.get(k)!;
    const out = await engine.ditForward(get('hidden_states'), get('encoder_hidden_states'), get('timestep'), get('img_ids'), get('txt_ids'));
    expect(out.shape).toEqual(get('output').shape);
    expect(relErr(out.data, get('output').data)).toBeLessThan(tolerance(1e-4));
  });

  it('matches the reference VAE decode and encode (vae/v1)', async () => {
    const io = await readTensorFile(path.join(GOLDEN, 'vae', 'v1', 'io.safetensors'));
    const decoded = await engine.vaeDecode(io.get('latent')!);
    expect(decoded.shape).toEqual(io.get('decoded')!.shape);
    expect(relErr(decoded.data, io.get('decoded')!.data)).toBeLessThan(tolerance(1e-4));
    const { mean, logvar } = await engine.vaeEncode(io.get('image')!);
    expect(relErr(mean.data, io.get('encoded_mean')!.data)).toBeLessThan(tolerance(1e-4));
    expect(relErr(logvar.data, io.get('encoded_logvar')!.data)).toBeLessThan(tolerance(1e-4));
  });

  it('refuses NaN inputs with OVIS_NON_FINITE naming the stage, without crashing', async () => {
    const latent = z(2);
    latent.data[5] = Number.NaN;
    const dec = await rejection(engine.vaeDecode(latent));
    expect(dec.code).toBe('OVIS_NON_FINITE');
    expect(dec.message).toMatch(/the VAE decoder output is not finite/);
    const io = await readTensorFile(path.join(GOLDEN, 'transformer', 't1', 'io.safetensors'));
    const get = (k: string): FloatTensor => io.get(k)!;
    const x = get('hidden_states');
    x.data[0] = Number.NaN;
    const fwd = await rejection(engine.ditForward(x, get('encoder_hidden_states'), get('timestep'), get('img_ids'), get('txt_ids')));
    expect(fwd.code).toBe('OVIS_NON_FINITE');
    expect(fwd.message).toMatch(/the MMDiT output is not finite/);
    // generate refuses NaN noise up front
    const r = tinyRequest();
    r.noise[0] = Number.NaN;
    expect((await rejection(engine.generate(r))).code).toBe('OVIS_BAD_ARGUMENT');
    // and the engine is fine afterwards
    expect((await engine.vaeDecode(z(3))).data.some(Number.isNaN)).toBe(false);
  });

  it('maps native errors to OvisError with the same code', async () => {
    const err = await rejection(engine.encodeText(new Float32Array(4) as never, new Int32Array(4), [1, 4]));
    expect(err).toBeInstanceOf(OvisError);
    expect(err.code).toBe('OVIS_BAD_ARGUMENT');
  });
});

describe('NativeModelEngine.create', () => {
  it('rejects a non-string plan with OVIS_BAD_ARGUMENT', async () => {
    const err = await rejection(NativeModelEngine.create(42 as never, { threads: 1 }));
    expect(err).toBeInstanceOf(OvisError);
    expect(err.code).toBe('OVIS_BAD_ARGUMENT');
  });

  it('rejects a plan naming a missing file with OVIS_BAD_WEIGHTS', async () => {
    const plan = (await tinyPlanText()).replace(/^file 0 .*$/m, 'file 0 /nonexistent/weights.safetensors');
    const err = await rejection(NativeModelEngine.create(plan, deviceOptions(1)));
    expect(err).toBeInstanceOf(OvisError);
    expect(err.code).toBe('OVIS_BAD_WEIGHTS');
  });

  it('rejects bad options with OVIS_BAD_ARGUMENT', async () => {
    const plan = await tinyPlanText();
    expect((await rejection(NativeModelEngine.create(plan, { device: 'tpu' }))).code).toBe('OVIS_BAD_ARGUMENT');
    expect((await rejection(NativeModelEngine.create(plan, { threads: -2 }))).code).toBe('OVIS_BAD_ARGUMENT');
  });

  it('rejects an aborted signal with AbortError', async () => {
    const err = await rejection(NativeModelEngine.create(await tinyPlanText(), { signal: AbortSignal.abort() }));
    expect(err).toBeInstanceOf(AbortError);
  });
});

describe('AbortSignal', () => {
  it('rejects without running when aborted before the call', async () => {
    let steps = 0;
    const err = await rejection(engine.generate(tinyRequest(), () => steps++, { signal: AbortSignal.abort('stop') }));
    expect(err).toBeInstanceOf(AbortError);
    expect(err.code).toBe('ABORT_ERR');
    expect(steps).toBe(0);
  });

  it('cancels a running generate, which rejects with AbortError; the engine still works', async () => {
    const controller = new AbortController();
    const run = longGenerate(engine, controller.signal);
    const failed = rejection(run.done);
    await run.firstStep;
    controller.abort();
    const err = await failed;
    expect(err).toBeInstanceOf(AbortError);
    expect(run.steps.length).toBeLessThan(3000);
    const r = await engine.generate(tinyRequest({ steps: 2 }));
    expect(r.image.shape).toEqual([1, 3, 32, 32]);
  });

  it('drops a queued call aborted before it starts, without touching the running one', async () => {
    const running = longGenerate(engine, undefined, 300);
    const controller = new AbortController();
    let queuedSteps = 0;
    const queued = engine.generate(tinyRequest(), () => queuedSteps++, { signal: controller.signal });
    const after = engine.vaeDecode(z());
    await running.firstStep;
    controller.abort();
    expect(await rejection(queued)).toBeInstanceOf(AbortError);
    await running.done; // not cancelled: it completes
    expect(running.steps.length).toBe(300);
    expect((await after).shape).toEqual([1, 3, 16, 16]);
    expect(queuedSteps).toBe(0);
  });

  it('aborting after a call settled changes nothing', async () => {
    const controller = new AbortController();
    const out = await engine.vaeDecode(z(), { signal: controller.signal });
    controller.abort();
    expect(out.shape).toEqual([1, 3, 16, 16]);
    expect((await engine.vaeDecode(z())).shape).toEqual([1, 3, 16, 16]);
  });
});

describe('queue', () => {
  it('completes concurrent calls in call order', async () => {
    const order: string[] = [];
    await Promise.all([
      engine.generate(tinyRequest({ steps: 3 })).then(() => order.push('generate')),
      engine.vaeDecode(z()).then(() => order.push('decode')),
      engine.encodeText(new Int32Array(8).fill(3), new Int32Array(8).fill(1), [1, 8]).then(() => order.push('text')),
      engine.vaeEncode({ data: noise(3 * 16 * 16), shape: [1, 3, 16, 16] }).then(() => order.push('encode')),
    ]);
    expect(order).toEqual(['generate', 'decode', 'text', 'encode']);
  });

  it('uses the inputs as they were at call time, even for queued calls', async () => {
    const x = z(9);
    const ref = await engine.vaeDecode({ data: x.data.slice(), shape: x.shape });
    const busy = engine.generate(tinyRequest({ steps: 3 }));
    const pending = engine.vaeDecode(x);
    x.data.fill(Number.NaN);
    x.shape[1] = 1;
    await busy;
    expect((await pending).data).toEqual(ref.data);
  });

  it('cancel() aborts only the running call', async () => {
    const running = longGenerate(engine);
    const next = engine.vaeDecode(z());
    await running.firstStep;
    engine.cancel();
    expect(await rejection(running.done)).toBeInstanceOf(AbortError);
    expect((await next).shape).toEqual([1, 3, 16, 16]);
  });
});

describe('dispose', () => {
  it('rejects a running generate and queued calls cleanly; later calls reject with OVIS_DISPOSED', async () => {
    const e = await NativeModelEngine.create(await tinyPlanText(), deviceOptions(1));
    const running = longGenerate(e);
    const queued = e.vaeDecode(z());
    const runningErr = rejection(running.done);
    const queuedErr = rejection(queued);
    await running.firstStep;
    await e.dispose();
    expect(e.disposed).toBe(true);
    for (const err of [await runningErr, await queuedErr]) {
      expect(err).toBeInstanceOf(OvisError);
      expect(err.code).toBe('OVIS_DISPOSED');
    }
    const later = await rejection(e.vaeDecode(z()));
    expect(later.code).toBe('OVIS_DISPOSED');
    await e.dispose(); // idempotent
    await e[Symbol.asyncDispose]();
  });

  it('works with await using', async () => {
    let kept: NativeModelEngine | undefined;
    {
      await using e = await NativeModelEngine.create(await tinyPlanText(), deviceOptions(1));
      kept = e;
      expect((await e.vaeDecode(z())).shape).toEqual([1, 3, 16, 16]);
    }
    expect(kept.disposed).toBe(true);
  });
});
