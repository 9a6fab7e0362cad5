import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelLoadError } from '../lib/errors.js';
import { MAX_TOKENS, PAD_TOKEN_ID, PromptTokenizer } from '../lib/tokenizer/index.js';
import { GOLDEN, TINY_DIFFUSERS, TINY_ORIGINAL, tempDir, removeTempDirs } from './model-helpers.js';

interface Case {
  prompt: string;
  chat_text: string;
  input_ids: number[];
  attention_mask: number[];
}
const CASES = JSON.parse(readFileSync(path.join(GOLDEN, 'tokenizer', 'cases.json'), 'utf8')) as Case[];

afterAll(removeTempDirs);

describe('PromptTokenizer', async () => {
  const tokenizer = await PromptTokenizer.load(path.join(TINY_DIFFUSERS, 'tokenizer'));

  it.each(CASES.map((c, i) => [i, c] as const))('golden case %i', (_i, c) => {
    expect(tokenizer.chatText(c.prompt)).toBe(c.chat_text);
    const out = tokenizer.encode(c.prompt);
    expect(Array.from(out.inputIds)).toEqual(c.input_ids);
    expect(Array.from(out.attentionMask)).toEqual(c.attention_mask);
    expect(out.truncated).toBe(out.tokenCount > MAX_TOKENS);
  });

  it('reports truncation of a long prompt and keeps a short one whole', () => {
    const long = tokenizer.encode('word '.repeat(400));
    expect(long.truncated).toBe(true);
    expect(long.tokenCount).toBeGreaterThan(MAX_TOKENS);
    expect(long.attentionMask.every((m) => m === 1)).toBe(true);
    const short = tokenizer.encode('a cute cat');
    expect(short.truncated).toBe(false);
    expect(short.inputIds[MAX_TOKENS - 1]).toBe(PAD_TOKEN_ID);
  });

  it('loads the template from tokenizer_config.json when there is no chat_template.jinja', async () => {
    const dir = tempDir('tok');
    const src = path.join(TINY_DIFFUSERS, 'tokenizer');
    const config = JSON.parse(readFileSync(path.join(src, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    config['chat_template'] = readFileSync(path.join(src, 'chat_template.jinja'), 'utf8');
    const { writeFileSync, symlinkSync } = await import('node:fs');
    writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config));
    symlinkSync(path.join(src, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
    const other = await PromptTokenizer.load(dir);
    expect(Array.from(other.encode(CASES[1]!.prompt).inputIds)).toEqual(CASES[1]!.input_ids);
  });

  it('loads the Ovis2.5 folder of the original layout', async () => {
    const other = await PromptTokenizer.load(path.join(TINY_ORIGINAL, 'Ovis2.5-2B'));
    expect(Array.from(other.encode(CASES[0]!.prompt).inputIds)).toEqual(CASES[0]!.input_ids);
  });

  it('names the missing file', async () => {
    const err = await PromptTokenizer.load(path.join(TINY_ORIGINAL, 'nope')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelLoadError);
    expect((err as ModelLoadError).message).toContain('tokenizer.json');
  });
});
