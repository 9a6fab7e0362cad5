/**
 * The raw addon (types/native.d.ts): exports, constructor and argument checks on the JS thread,
 * error codes, FIFO order of its own queue, dispose. Needs the built addon (npm run build:native).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OvisError } from '../lib/errors.js';
import { loadBinding, loadCudaBinding, packageRoot } from '../lib/native/binding.js';
import type { NativeBinding, NativeEngine } from '../types/native.js';
import { noise, rejection, tinyPlanText, tinyRequest } from './native-helpers.js';

let binding: NativeBinding;
let engine: NativeEngine;

beforeAll(async () => {
  binding = loadBinding('cpu');
  engine = new binding.Engine({ device: 'cpu', threads: 1, fp32: false });
  await engine.load(await tinyPlanText());
});

afterAll(async () => {
  await engine?.dispose();
});

describe('native binding exports', () => {
  it('has the package version, the cpu backend and no CUDA devices without CUDA', () => {
    const pkg = JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string };
    expect(binding.version).toBe(pkg.version);
    expect(binding.backends()).toContain('cpu');
    if (!binding.backends().includes('cuda')) expect(binding.cudaDeviceCount()).toBe(0);
    expect(loadBinding('cpu')).toBe(binding); // loaded once
  });

  it('reports a missing or unusable CUDA variant as OVIS_UNAVAILABLE saying why', async () => {
    let b: NativeBinding | undefined;
    try {
      b = (await loadCudaBinding()).binding;
    } catch (e) {
      expect(e).toBeInstanceOf(OvisError);
      expect((e as OvisError).code).toBe('OVIS_UNAVAILABLE');
      // No CUDA addon here: how to get one; a CUDA addon on a machine without a GPU: why it cannot run.
      expect((e as OvisError).message).toMatch(/npm run build:cuda|driver|GPU/);
      return;
    }
    expect(b.backends()).toContain('cuda');
  });
});

describe('Engine constructor', () => {
  const bad: unknown[] = [
    undefined,
    null,
    42,
    'cpu',
    [],
    { device: 'gpu' },
    { device: 'cuda:' },
    { device: 7 },
    { device: 'cpu', threads: -1 },
    { device: 'cpu', threads: 1.5 },
    { device: 'cpu', threads: Number.NaN },
    { device: 'cpu', threads: '2' },
    { device: 'cpu', fp32: 'yes' },
  ];
  for (const options of bad) {
    it(`throws OVIS_BAD_ARGUMENT for ${JSON.stringify(options) ?? String(options)}`, () => {
      const Engine = binding.Engine as unknown as new (o: unknown) => NativeEngine;
      let err: (Error & { code?: string }) | undefined;
      try {
        new Engine(options);
      } catch (e) {
        err = e as Error & { code?: string };
      }
      expect(err).toBeInstanceOf(TypeError);
      expect(err?.code).toBe('OVIS_BAD_ARGUMENT');
    });
  }

  it('passes a throwing options getter through as an error, not a crash', () => {
    const options = {
      get device(): string {
        throw new Error('boom');
      },
    };
    expect(() => new binding.Engine(options as never)).toThrow(/boom/);
  });
});

describe('load', () => {
  it('loads the tiny model and names its backend', () => {
    expect(engine.backendName).toMatch(/^cpu/);
    expect(engine.disposed).toBe(false);
  });

  it('rejects a plan that is not a string with OVIS_BAD_ARGUMENT', async () => {
    const e = new binding.Engine({ device: 'cpu', threads: 1, fp32: false });
    for (const plan of [undefined, 5, null, { text: 'x' }, Buffer.from('ovis-plan 1')]) {
      const err = await rejection(e.load(plan as never));
      expect(err.code).toBe('OVIS_BAD_ARGUMENT');
    }
    await e.dispose();
  });

  it('rejects unparsable plan text and plans naming missing files with OVIS_BAD_WEIGHTS', async () => {
    const e = new binding.Engine({ device: 'cpu', threads: 1, fp32: false });
    expect((await rejection(e.load('not a plan'))).code).toBe('OVIS_BAD_WEIGHTS');
    const plan = (await tinyPlanText()).replace(/^file 0 .*$/m, 'file 0 0 0 0 0 "/nonexistent/ovis/missing.safetensors"');
    const err = await rejection(e.load(plan));
    expect(err.code).toBe('OVIS_BAD_WEIGHTS');
    expect(err.message).toMatch(/missing\.safetensors/);
    await e.dispose();
  });

  it('rejects calls made before load with OVIS_BAD_ARGUMENT', async () => {
    const e = new binding.Engine({ device: 'cpu', threads: 1, fp32: false });
    const err = await rejection(e.vaeDecode({ data: noise(16 * 4), shape: [1, 16, 2, 2] }));
    expect(err.code).toBe('OVIS_BAD_ARGUMENT');
    expect(err.message).toMatch(/load\(\)/);
    await e.dispose();
  });

  it('reports an unavailable device as OVIS_UNAVAILABLE when the build lacks CUDA', async () => {
    if (binding.backends().includes('cuda')) return;
    const e = new binding.Engine({ device: 'cuda', threads: 0, fp32: false });
    expect((await rejection(e.load(await tinyPlanText()))).code).toBe('OVIS_UNAVAILABLE');
    await e.dispose();
  });
});

describe('argument checks (rejections with OVIS_BAD_ARGUMENT, never a crash)', () => {
  const ids = new Int32Array(8).fill(1);
  const cases: Array<[string, () => Promise<unknown>]> = [
    ['encodeText: Float32Array ids', () => engine.encodeText(new Float32Array(8) as never, ids, [1, 8])],
    ['encodeText: Uint32Array mask', () => engine.encodeText(ids, new Uint32Array(8) as never, [1, 8])],
    ['encodeText: plain array ids', () => engine.encodeText([1, 2] as never, ids, [1, 2])],
    ['encodeText: length vs shape', () => engine.encodeText(ids, ids, [1, 9])],
    ['encodeText: rank-3 shape', () => engine.encodeText(ids, ids, [1, 2, 4])],
    ['encodeText: zero dim', () => engine.encodeText(ids, ids, [0, 8])],
    ['encodeText: NaN dim', () => engine.encodeText(ids, ids, [Number.NaN, 8])],
    ['encodeText: fractional dim', () => engine.encodeText(ids, ids, [0.5, 16])],
    ['encodeText: negative dim', () => engine.encodeText(ids, ids, [-1, -8])],
    ['encodeText: string shape', () => engine.encodeText(ids, ids, '1,8' as never)],
    ['encodeText: shape of strings', () => engine.encodeText(ids, ids, ['1', '8'] as never)],
    ['encodeText: huge shape', () => engine.encodeText(ids, ids, [2 ** 40, 2 ** 40])],
    ['encodeText: missing arguments', () => (engine.encodeText as () => Promise<unknown>)()],
    ['vaeDecode: not a tensor', () => engine.vaeDecode(null as never)],
    ['vaeDecode: missing data', () => engine.vaeDecode({ shape: [1, 16, 2, 2] } as never)],
    ['vaeDecode: Float64Array data', () => engine.vaeDecode({ data: new Float64Array(64) as never, shape: [1, 16, 2, 2] })],
    ['vaeDecode: data length', () => engine.vaeDecode({ data: new Float32Array(63), shape: [1, 16, 2, 2] })],
    ['vaeDecode: 7 dims', () => engine.vaeDecode({ data: new Float32Array(1), shape: [1, 1, 1, 1, 1, 1, 1] })],
    ['vaeEncode: array data', () => engine.vaeEncode({ data: [0, 1, 2] as never, shape: [3] })],
    ['ditForward: missing tensors', () => (engine.ditForward as (x: unknown) => Promise<unknown>)({ data: new Float32Array(1), shape: [1] })],
    ['generate: empty request', () => engine.generate({} as never)],
    ['generate: not an object', () => engine.generate('go' as never)],
    ['generate: tokens vs ids', () => engine.generate({ ...tinyRequest(), tokens: 31 })],
    ['generate: NaN tokens', () => engine.generate({ ...tinyRequest(), tokens: Number.NaN })],
    ['generate: only negIds', () => engine.generate({ ...tinyRequest(), negMask: undefined })],
    ['generate: dropPrefix >= tokens', () => engine.generate({ ...tinyRequest(), dropPrefix: 32 })],
    ['generate: noise length', () => engine.generate({ ...tinyRequest(), noiseShape: [1, 16, 4, 5] })],
    ['generate: noise rank', () => engine.generate({ ...tinyRequest(), noiseShape: [16, 4, 4] })],
    ['generate: sigmas type', () => engine.generate({ ...tinyRequest(), sigmas: [1, 0] as never })],
    ['generate: one sigma', () => engine.generate({ ...tinyRequest(), sigmas: new Float32Array([1]) })],
    ['generate: NaN guidance', () => engine.generate({ ...tinyRequest(), guidance: Number.NaN })],
    ['generate: guidance string', () => engine.generate({ ...tinyRequest(), guidance: '5' as never })],
    ['generate: reportLatents number', () => engine.generate({ ...tinyRequest(), reportLatents: 1 as never })],
    ['generate: onStep not a function', () => engine.generate(tinyRequest(), 'cb' as never)],
  ];
  for (const [name, call] of cases) {
    it(name, async () => {
      const err = await rejection(call());
      expect(err.code).toBe('OVIS_BAD_ARGUMENT');
      expect(err).toBeInstanceOf(TypeError);
    });
  }

  it('rejects typed arrays over a detached buffer', async () => {
    const buffer = new ArrayBuffer(64 * 4);
    const data = new Float32Array(buffer);
    structuredClone(buffer, { transfer: [buffer] });
    expect(buffer.byteLength).toBe(0);
    const err = await rejection(engine.vaeDecode({ data, shape: [1, 16, 2, 2] }));
    expect(err.code).toBe('OVIS_BAD_ARGUMENT');
  });

  it('passes a throwing getter in a request through as a rejection', async () => {
    const request = {
      ...tinyRequest(),
      get noise(): Float32Array {
        throw new Error('getter failed');
      },
    };
    const err = await rejection(engine.generate(request));
    expect(err.message).toMatch(/getter failed/);
  });

  it('rejects shapes the engine does not accept with an engine error code, not a crash', async () => {
    // Valid at the boundary (data matches shape) but 3 latent channels instead of 16.
    const err = await rejection(engine.vaeDecode({ data: noise(3 * 4), shape: [1, 3, 2, 2] }));
    expect(err.code).toBe('OVIS_BAD_ARGUMENT');
  });

  it('still works after all of that', async () => {
    const out = await engine.vaeDecode({ data: noise(16 * 4), shape: [1, 16, 2, 2] });
    expect(out.shape).toEqual([1, 3, 16, 16]);
  });
});

describe('queue, copies, dispose', () => {
  it('completes concurrent calls in call order', async () => {
    const order: number[] = [];
    const z = { data: noise(16 * 4), shape: [1, 16, 2, 2] };
    const calls = [
      engine.generate(tinyRequest({ steps: 3 })).then(() => order.push(0)),
      engine.vaeDecode(z).then(() => order.push(1)),
      engine.encodeText(new Int32Array(8).fill(5), new Int32Array(8).fill(1), [1, 8]).then(() => order.push(2)),
      engine.vaeDecode(z).then(() => order.push(3)),
    ];
    await Promise.all(calls);
    expect(order).toEqual([0, 1, 2, 3]);
  });

  it('copies its inputs when called: later changes by JS do not matter', async () => {
    const data = noise(16 * 4, 3);
    const ref = await engine.vaeDecode({ data: data.slice(), shape: [1, 16, 2, 2] });
    const busy = engine.generate(tinyRequest({ steps: 4 })); // the next call waits behind this one
    const pending = engine.vaeDecode({ data, shape: [1, 16, 2, 2] });
    data.fill(Number.NaN);
    await busy;
    expect((await pending).data).toEqual(ref.data);
  });

  it('delivers step events in order on the JS thread, with latents when asked', async () => {
    const events: Array<{ step: number; steps: number; sigma: number; latents?: number }> = [];
    const r = await engine.generate({ ...tinyRequest({ steps: 3 }), reportLatents: true }, (e) =>
      events.push({ step: e.step, steps: e.steps, sigma: e.sigma, latents: e.latents?.length }),
    );
    expect(events.map((e) => e.step)).toEqual([1, 2, 3]);
    expect(events.every((e) => e.steps === 3)).toBe(true);
    expect(events[0]!.sigma).toBeCloseTo(1);
    expect(events.every((e) => e.latents === r.latents.data.length)).toBe(true);
    expect(r.image.shape).toEqual([1, 3, 32, 32]);
    expect(r.negativeEmbeds?.shape).toEqual(r.promptEmbeds.shape);
  });

  it('rejects with what onStep threw and stays usable', async () => {
    const boom = new Error('step callback failed');
    const err = await rejection(
      engine.generate(tinyRequest({ steps: 6 }), () => {
        throw boom;
      }),
    );
    expect(err).toBe(boom);
    const out = await engine.vaeDecode({ data: noise(16 * 4), shape: [1, 16, 2, 2] });
    expect(out.shape).toEqual([1, 3, 16, 16]);
  });

  it('cancel() stops only the running call', async () => {
    let cancelled = false;
    const first = engine.generate(tinyRequest({ steps: 3000 }), () => {
      if (!cancelled) {
        cancelled = true;
        engine.cancel();
      }
    });
    const second = engine.vaeDecode({ data: noise(16 * 4), shape: [1, 16, 2, 2] });
    expect((await rejection(first)).code).toBe('ABORT_ERR');
    expect((await second).shape).toEqual([1, 3, 16, 16]);
  });

  it('dispose rejects queued calls with OVIS_DISPOSED, stops the running one, and is idempotent', async () => {
    const e = new binding.Engine({ device: 'cpu', threads: 1, fp32: false });
    await e.load(await tinyPlanText());
    let started!: () => void;
    const firstStep = new Promise<void>((resolve) => (started = resolve));
    const running = e.generate(tinyRequest({ steps: 3000 }), () => started());
    const queued = e.vaeDecode({ data: noise(16 * 4), shape: [1, 16, 2, 2] });
    const runningErr = rejection(running);
    const queuedErr = rejection(queued);
    await firstStep;
    const d1 = e.dispose();
    const d2 = e.dispose();
    expect(e.disposed).toBe(true);
    await Promise.all([d1, d2]);
    expect((await runningErr).code).toBe('OVIS_DISPOSED');
    expect((await queuedErr).code).toBe('OVIS_DISPOSED');
    await e.dispose();
    expect((await rejection(e.vaeDecode({ data: noise(16 * 4), shape: [1, 16, 2, 2] }))).code).toBe('OVIS_DISPOSED');
    expect((await rejection(e.load('x'))).code).toBe('OVIS_DISPOSED');
    e.cancel(); // a no-op, not a throw
  });

  it('disposes an engine that never loaded', async () => {
    const e = new binding.Engine({ device: 'cpu', threads: 0, fp32: false });
    await e.dispose();
    expect(e.disposed).toBe(true);
  });
});
