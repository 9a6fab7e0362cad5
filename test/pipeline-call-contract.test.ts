/**
 * What a caller may rely on at the moment of a call (issues 10 and 18): inputs copied at the call, one
 * abort path that no timing escapes, errors that name the argument and print the value found.
 * Fake addon engine (test/pipeline-fakes.ts) behind the real NativeModelEngine queue.
 */
import { describe, expect, it } from 'vitest';
import { AbortError, OvisError } from '../lib/errors.js';
import { OvisImage } from '../lib/ovis-image.js';
import { decodePng } from '../lib/pipeline/png.js';
import { makeModel, sleep } from './pipeline-fakes.js';

const small = { prompt: 'a cat', width: 32, height: 48, steps: 3 } as const;
const noiseLength = 16 * 6 * 4;

async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

describe('inputs are copied at the call', () => {
  it('changing the noise array after generate() returns changes nothing, even on an idle model', async () => {
    const { model } = makeModel();
    const noise = new Float32Array(noiseLength).fill(0.5);
    const p = model.generate({ ...small, noise });
    noise.fill(-1); // synchronously, before the call had a chance to start
    const r = await p;
    expect(r.image.data[0]).toBe(191); // (0.5 + 1) / 2 * 255, not 0
  });

  it('a lazy stream also copies at the call', async () => {
    const { model } = makeModel();
    const noise = new Float32Array(noiseLength).fill(0.5);
    const events = model.stream({ ...small, noise });
    noise.fill(-1);
    let image: Uint8Array | undefined;
    for await (const e of events) if (e.type === 'result') image = e.result.image.data;
    expect(image![0]).toBe(191);
  });
});

describe('seed and noise', () => {
  it('refuses seed with noise as OVIS_INVALID_OPTIONS naming both', async () => {
    const { model, engine } = makeModel();
    const e = await rejection(model.generate({ ...small, seed: 7, noise: new Float32Array(noiseLength) }));
    expect(e).toBeInstanceOf(OvisError);
    expect(e.code).toBe('OVIS_INVALID_OPTIONS');
    expect(e.message).toMatch(/'seed' cannot be combined with 'noise'/);
    expect(engine.requests.length).toBe(0);
  });

  it('reports seed null with noise, in the result and in the PNG', async () => {
    const { model } = makeModel();
    const r = await model.generate({ ...small, noise: new Float32Array(noiseLength) });
    expect(r.seed).toBeNull();
    expect(r.options.seed).toBeUndefined();
    expect(decodePng(await r.toPNG()).text['seed']).toBe('custom noise');
  });
});

describe('error messages', () => {
  it.each([
    ['width', Number.NaN, /\(got NaN\)/],
    ['steps', Number.POSITIVE_INFINITY, /\(got Infinity\)/],
    ['guidanceScale', Number.NEGATIVE_INFINITY, /\(got -Infinity\)/],
  ])("prints %s = %s as such, not as null", async (field, value, shown) => {
    const { model } = makeModel();
    const e = await rejection(model.generate({ ...small, [field]: value }));
    expect(e.code).toBe('OVIS_INVALID_OPTIONS');
    expect(e.message).toMatch(new RegExp(`'${field}'`));
    expect(e.message).toMatch(shown);
  });

  it.each([[null], [undefined], [42], [''], [[]], [{ transformer: 42 }], [{ weights: './x' }], [{}]])(
    'OvisImage.load(%j) is OVIS_INVALID_OPTIONS naming the model argument',
    async (model) => {
      const e = await rejection(OvisImage.load(model as never));
      expect(e).toBeInstanceOf(OvisError);
      expect(e.code).toBe('OVIS_INVALID_OPTIONS');
      expect(e.message).toMatch(/^load: 'model' must be a model folder, a Hugging Face model id/);
    },
  );

  it('refuses a prompt over the character cap before tokenizing it', async () => {
    const { model } = makeModel();
    const started = performance.now();
    const e = await rejection(model.generate({ ...small, prompt: 'x'.repeat(2_000_000) }));
    expect(performance.now() - started).toBeLessThan(200);
    expect(e.code).toBe('OVIS_INVALID_OPTIONS');
    expect(e.message).toMatch(/'prompt' must be a string of at most 10000 characters \(got a string of 2000000 characters\)/);
    const n = await rejection(model.generate({ ...small, negativePrompt: 'y'.repeat(10_001) }));
    expect(n.message).toMatch(/'negativePrompt'/);
  });
});

describe('aborting', () => {
  it("AbortError.cause is the signal's reason: a timeout is told from a user's abort", async () => {
    const { model, engine } = makeModel();
    engine.stepMs = 20;
    const user = new AbortController();
    const p = model.generate({ ...small, steps: 50, signal: user.signal });
    await sleep(30);
    user.abort(new Error('user clicked cancel'));
    const e = await rejection(p);
    expect(e).toBeInstanceOf(AbortError);
    expect((e.cause as Error).message).toBe('user clicked cancel');

    const timeout = await rejection(model.generate({ ...small, steps: 50, signal: AbortSignal.timeout(30) }));
    expect(timeout).toBeInstanceOf(AbortError);
    expect((timeout.cause as DOMException).name).toBe('TimeoutError');

    const before = await rejection(model.generate({ ...small, signal: AbortSignal.abort('stop') }));
    expect(before.cause).toBe('stop');
  });

  it('an abort at any moment before the result rejects with AbortError', async () => {
    const { model, engine } = makeModel();
    engine.stepMs = 0;
    // Abort after k microtasks, for k across the whole life of a call (its last step included).
    const outcomes: string[] = [];
    for (let k = 0; k < 120; k++) {
      const c = new AbortController();
      let settled = false;
      const p = model.generate({ ...small, steps: 1, signal: c.signal }).finally(() => (settled = true));
      for (let i = 0; i < k; i++) await Promise.resolve();
      const abortedBeforeResult = !settled;
      c.abort();
      const outcome = await p.then(
        () => 'resolved',
        (e: unknown) => (e instanceof AbortError ? 'aborted' : String(e)),
      );
      if (abortedBeforeResult) outcomes.push(outcome);
    }
    expect(outcomes.length).toBeGreaterThan(0);
    expect(outcomes.filter((o) => o !== 'aborted')).toEqual([]);
    const r = await model.generate(small);
    expect(r.image.width).toBe(32);
  });

  it('an abort on a later macrotask before the result also rejects', async () => {
    const { model, engine } = makeModel();
    engine.stepMs = 1;
    for (let k = 0; k < 10; k++) {
      const c = new AbortController();
      const p = model.generate({ ...small, steps: 2, signal: c.signal });
      await sleep(k % 3);
      c.abort();
      expect(await rejection(p)).toBeInstanceOf(AbortError);
    }
  });
});

describe('stream()', () => {
  it('is lazy: nothing runs until the loop asks for the first event', async () => {
    const { model, engine } = makeModel();
    const events = model.stream(small);
    await sleep(30);
    expect(engine.requests.length).toBe(0);
    const first = await events.next();
    expect(first.value).toMatchObject({ type: 'step', step: 1 });
    await events.return?.();
  });

  it('a stream never iterated never runs, and does not block later calls', async () => {
    const { model, engine } = makeModel();
    model.stream(small);
    const r = await model.generate({ ...small, seed: 3 });
    expect(r.seed).toBe(3n);
    expect(engine.requests.length).toBe(1);
  });
});
