import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cli, hasStackTrace } from './cli-helpers.js';
import { GOLDEN, TINY_DIFFUSERS, TINY_ORIGINAL } from './model-helpers.js';

interface Case {
  prompt: string;
  input_ids: number[];
  attention_mask: number[];
}
const CASES = JSON.parse(readFileSync(path.join(GOLDEN, 'tokenizer', 'cases.json'), 'utf8')) as Case[];

beforeAll(assertBuilt);

describe('ovis-image tokenize', () => {
  it.each(CASES.map((c, i) => [i, c] as const))('golden case %i', (i, c) => {
    // alternate layouts: both carry the same tokenizer
    const model = i % 2 === 0 ? TINY_DIFFUSERS : TINY_ORIGINAL;
    const r = cli(['tokenize', '-m', model, '-p', c.prompt]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { input_ids: number[]; attention_mask: number[]; truncated: boolean };
    expect(out.input_ids).toEqual(c.input_ids);
    expect(out.attention_mask).toEqual(c.attention_mask);
    expect(typeof out.truncated).toBe('boolean');
  });

  it('reports truncation', () => {
    const r = cli(['tokenize', '--tokenizer', path.join(TINY_DIFFUSERS, 'tokenizer'), '-p', 'word '.repeat(400)]);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { truncated: boolean }).truncated).toBe(true);
    expect(r.stderr).toMatch(/^ovis-image: warning: the prompt was truncated/);
  });

  it('errors cleanly without a tokenizer or a prompt', () => {
    const noPrompt = cli(['tokenize', '-m', TINY_DIFFUSERS]);
    expect(noPrompt.code).toBe(2);
    const noTokenizer = cli(['tokenize', '--tokenizer', path.join(TINY_DIFFUSERS, 'vae'), '-p', 'x']);
    expect(noTokenizer.code).toBe(1);
    expect(noTokenizer.stderr).toContain('tokenizer.json');
    expect(hasStackTrace(noTokenizer.stderr + noPrompt.stderr)).toBe(false);
  });
});
