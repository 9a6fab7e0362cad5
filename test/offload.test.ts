/**
 * The `offload` load option: validation, and every mode from OvisImage.load down to the engine giving the
 * same image on the CPU ('layers' streams the MMDiT's blocks through the engine's offload planner; the
 * planner and its memory budget are tested in cpp/tests/test_offload.cpp).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { OvisError } from '../lib/errors.js';
import { OvisImage } from '../lib/ovis-image.js';
import { parseLoadOptions } from '../lib/pipeline/options.js';
import { TINY_DIFFUSERS } from './native-helpers.js';
import { pipelineCase } from './helpers/golden-manifest.js';

function loadError(options: unknown): OvisError {
  try {
    parseLoadOptions(options);
  } catch (e) {
    expect(e).toBeInstanceOf(OvisError);
    return e as OvisError;
  }
  throw new Error('expected an error');
}

describe('offload validation', () => {
  it('accepts the four modes and leaves it unset by default', () => {
    expect(parseLoadOptions({}).offload).toBeUndefined();
    for (const m of ['none', 'text-encoder', 'layers', 'auto'] as const) expect(parseLoadOptions({ offload: m }).offload).toBe(m);
  });

  it('names the field and the allowed values', () => {
    const err = loadError({ offload: 'gpu' });
    expect(err.code).toBe('OVIS_INVALID_OPTIONS');
    expect(err.message).toBe(`load: 'offload' must be 'none', 'text-encoder', 'layers' or 'auto' (got "gpu")`);
  });

  it('refuses offload together with keepTextEncoder', () => {
    const err = loadError({ offload: 'layers', keepTextEncoder: true });
    expect(err.message).toMatch(/'offload' cannot be combined with 'keepTextEncoder'/);
  });
});

describe('offload modes on the CPU engine', () => {
  const p3 = pipelineCase('p3');
  const options = { prompt: p3.prompt, width: p3.width, height: p3.height, steps: p3.steps, guidanceScale: p3.guidance, seed: p3.seed };
  let reference: Uint8Array;
  beforeAll(async () => {
    const model = await OvisImage.load(TINY_DIFFUSERS, { device: 'cpu', threads: 2 });
    reference = (await model.generate(options)).image.data;
    await model.dispose();
  });

  for (const offload of ['none', 'text-encoder', 'layers', 'auto'] as const) {
    it(`'${offload}' gives the same image`, async () => {
      const model = await OvisImage.load(TINY_DIFFUSERS, { device: 'cpu', threads: 2, offload });
      try {
        expect((await model.generate(options)).image.data).toEqual(reference);
        expect((await model.generate(options)).image.data).toEqual(reference);  // blocks streamed again
      } finally {
        await model.dispose();
      }
    });
  }
});
