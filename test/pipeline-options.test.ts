import { describe, expect, it } from 'vitest';
import { OvisError } from '../lib/errors.js';
import { noiseLength, parseGenerateOptions, parseLoadOptions } from '../lib/pipeline/options.js';

function invalid(fn: () => unknown, ...parts: RegExp[]): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(OvisError);
  expect((err as OvisError).code).toBe('OVIS_INVALID_OPTIONS');
  for (const p of parts) expect((err as OvisError).message).toMatch(p);
}

describe('generate options', () => {
  it('fills the defaults', () => {
    const o = parseGenerateOptions({ prompt: 'a cat' });
    expect(o).toMatchObject({ prompt: 'a cat', negativePrompt: '', width: 1024, height: 1024, steps: 50, guidanceScale: 5 });
    expect(o.seed).toBeUndefined();
  });

  it('accepts seeds up to 2^64 - 1 as number or bigint', () => {
    expect(parseGenerateOptions({ prompt: '', seed: 2n ** 64n - 1n }).seed).toBe(2n ** 64n - 1n);
    expect(parseGenerateOptions({ prompt: '', seed: 42 }).seed).toBe(42);
    invalid(() => parseGenerateOptions({ prompt: '', seed: 2n ** 64n }), /'seed'/, /2\^64 - 1/);
    invalid(() => parseGenerateOptions({ prompt: '', seed: -1 }), /'seed'/);
    invalid(() => parseGenerateOptions({ prompt: '', seed: 1.5 }), /'seed'/);
    invalid(() => parseGenerateOptions({ prompt: '', seed: '7' }), /'seed'/);
  });

  it('rejects sizes that are not multiples of 16 or out of range', () => {
    invalid(() => parseGenerateOptions({ prompt: 'x', width: 100 }), /'width'/, /multiple of 16 in \[16, 4096\]/, /got 100/);
    invalid(() => parseGenerateOptions({ prompt: 'x', height: 8200 }), /'height'/, /got 8200/);
    invalid(() => parseGenerateOptions({ prompt: 'x', height: 0 }), /'height'/);
    invalid(() => parseGenerateOptions({ prompt: 'x', width: 64.5 }), /'width'/);
  });

  it('rejects bad steps and guidance', () => {
    invalid(() => parseGenerateOptions({ prompt: 'x', steps: 0 }), /'steps'/, /\[1, 1000\]/, /got 0/);
    invalid(() => parseGenerateOptions({ prompt: 'x', steps: 2.5 }), /'steps'/);
    invalid(() => parseGenerateOptions({ prompt: 'x', guidanceScale: -1 }), /'guidanceScale'/, /\[0, 100\]/);
    invalid(() => parseGenerateOptions({ prompt: 'x', guidanceScale: Number.NaN }), /'guidanceScale'/);
  });

  it('rejects non-string prompts', () => {
    invalid(() => parseGenerateOptions({ prompt: 42 }), /'prompt'/, /string/, /got 42/);
    invalid(() => parseGenerateOptions({}), /'prompt'/, /got nothing/);
    invalid(() => parseGenerateOptions({ prompt: 'x', negativePrompt: null }), /'negativePrompt'/);
    invalid(() => parseGenerateOptions('a cat'), /must be an object/);
  });

  it('checks the noise shape against the size', () => {
    expect(noiseLength(64, 48)).toBe(16 * 6 * 8);
    const ok = parseGenerateOptions({ prompt: 'x', width: 64, height: 48, noise: new Float32Array(768) });
    expect(ok.noise?.length).toBe(768);
    invalid(() => parseGenerateOptions({ prompt: 'x', width: 64, height: 48, noise: new Float32Array(767) }), /'noise'/, /768/, /767/);
    invalid(() => parseGenerateOptions({ prompt: 'x', width: 64, height: 48, noise: [1, 2] }), /'noise'/, /Float32Array/);
  });

  it('names unknown options', () => {
    invalid(() => parseGenerateOptions({ prompt: 'x', guidance: 3 }), /unknown option 'guidance'/);
  });
});

describe('load options', () => {
  it('fills the defaults', () => {
    expect(parseLoadOptions(undefined)).toMatchObject({ device: 'auto', threads: 0 });
    // The precision's default depends on the device (CUDA bf16, CPU fp32): left for the engine to choose.
    expect(parseLoadOptions(undefined).precision).toBeUndefined();
    expect(parseLoadOptions({ device: 'cuda:1' }).device).toBe('cuda:1');
  });

  it('rejects bad values', () => {
    invalid(() => parseLoadOptions({ device: 'gpu' }), /'device'/, /cuda:N/, /got "gpu"/);
    invalid(() => parseLoadOptions({ threads: -2 }), /'threads'/);
    invalid(() => parseLoadOptions({ precision: 'fp16' }), /'precision'/, /'bf16' or 'fp32'/);
    invalid(() => parseLoadOptions({ signal: {} }), /'signal'/, /AbortSignal/);
  });
});
