/**
 * Issue 18.3 on the real addon: a signal aborted at any moment before the result makes generate()
 * reject with AbortError, however early (one microtask after the call) or late (as the native call
 * finishes); the model stays usable.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortError } from '../lib/errors.js';
import { OvisImage } from '../lib/ovis-image.js';
import { deviceOptions, TEST_DEVICE } from './helpers/test-device.js';
import { TINY_DIFFUSERS } from './native-helpers.js';

const small = { prompt: 'a red fox', width: 32, height: 32, steps: 2, seed: 3 } as const;
let model: OvisImage;

beforeAll(async () => {
  model = await OvisImage.load(TINY_DIFFUSERS, deviceOptions(1));
});
afterAll(async () => {
  await model?.dispose();
});

describe(`aborts on the real engine (${TEST_DEVICE.label})`, () => {
  it('an abort k microtasks after generate() rejects, for every k before the result', async () => {
    let aborted = 0;
    for (let k = 0; k < 60; k++) {
      const c = new AbortController();
      let settled = false;
      const p = model.generate({ ...small, signal: c.signal }).finally(() => (settled = true));
      for (let i = 0; i < k; i++) await Promise.resolve();
      if (settled) break;
      c.abort();
      const outcome = await p.then(
        () => 'resolved',
        (e: unknown) => (e instanceof AbortError ? 'aborted' : String(e)),
      );
      expect(outcome, `abort after ${k} microtasks`).toBe('aborted');
      aborted++;
    }
    expect(aborted).toBeGreaterThan(10);
    expect((await model.generate(small)).seed).toBe(3n);
  }, 120_000);

  it('an abort on the first step event, or just after the native call ends, rejects', async () => {
    for (let i = 0; i < 5; i++) {
      const c = new AbortController();
      const p = model.generate({ ...small, signal: c.signal, onStep: () => c.abort('stop') });
      await expect(p).rejects.toMatchObject({ name: 'AbortError', cause: 'stop' });
    }
    expect((await model.generate(small)).image.width).toBe(32);
  }, 120_000);
});
