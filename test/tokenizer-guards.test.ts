/**
 * Chat templates checked at load (issue 18.9) and parsed tokenizers kept per file (issue 10.15).
 */
import { copyFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelLoadError } from '../lib/errors.js';
import { checkChatTemplate, PromptTokenizer } from '../lib/tokenizer/index.js';
import { cachedTokenizerCount } from '../lib/tokenizer/tokenizer-cache.js';
import { removeTempDirs, tempDir, TINY_DIFFUSERS } from './model-helpers.js';

afterAll(removeTempDirs);

const TOKENIZER_JSON = path.join(TINY_DIFFUSERS, 'tokenizer', 'tokenizer.json');

/** A tokenizer folder with the tiny model's tokenizer.json and this chat template. */
function folderWithTemplate(template: string): string {
  const dir = tempDir('template');
  symlinkSync(TOKENIZER_JSON, path.join(dir, 'tokenizer.json'));
  writeFileSync(path.join(dir, 'chat_template.jinja'), template);
  return dir;
}

async function loadError(dir: string): Promise<ModelLoadError> {
  const err = await PromptTokenizer.load(dir).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ModelLoadError);
  expect((err as ModelLoadError).code).toBe('MODEL_BAD_CONFIG');
  return err as ModelLoadError;
}

describe('chat templates are checked at load', () => {
  it('a looping template is a ModelLoadError after the time limit, and the event loop keeps running', async () => {
    const template = '{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}{{ messages[0].content }}';
    let ticks = 0;
    const timer = setInterval(() => ticks++, 50);
    const started = Date.now();
    const err = await checkChatTemplate(template, 'loop.jinja', 500).catch((e: unknown) => e);
    clearInterval(timer);
    expect(err).toBeInstanceOf(ModelLoadError);
    expect((err as Error).message).toMatch(/^loop\.jinja: unusable chat template: rendering a 10000-character prompt took over 0\.5 s \(does it loop\?\)/);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(ticks).toBeGreaterThan(3);
  });

  it('a throwing template fails the load naming its file', async () => {
    const dir = folderWithTemplate("{{ raise_exception('no system prompts here') }}");
    const err = await loadError(dir);
    expect(err.message).toContain(path.join(dir, 'chat_template.jinja'));
    expect(err.message).toMatch(/throws: .*no system prompts here/);
    expect(err.file).toBe(path.join(dir, 'chat_template.jinja'));
  });

  it('an empty template, or one that drops the prompt, fails the load', async () => {
    expect((await loadError(folderWithTemplate('  \n'))).message).toMatch(/it is empty/);
    expect((await loadError(folderWithTemplate('<|im_start|>user\n<|im_end|>\n'))).message).toMatch(/does not contain the prompt/);
  });

  it('a template that renders too much fails the load', async () => {
    const dir = folderWithTemplate("{% for i in range(200) %}{{ messages[0].content }}{% endfor %}");
    expect((await loadError(dir)).message).toMatch(/renders \d+ characters, over the limit/);
  });
});

describe('parsed tokenizers are kept per file', () => {
  it('a second load of the same file reuses the parsed tokenizer; a changed file is parsed again', async () => {
    const dir = tempDir('tokcache');
    copyFileSync(TOKENIZER_JSON, path.join(dir, 'tokenizer.json'));
    copyFileSync(path.join(TINY_DIFFUSERS, 'tokenizer', 'chat_template.jinja'), path.join(dir, 'chat_template.jinja'));
    const inner = (t: PromptTokenizer): unknown => (t as unknown as { tokenizer: unknown }).tokenizer;

    const first = await PromptTokenizer.load(dir);
    const count = cachedTokenizerCount();
    const second = await PromptTokenizer.load(dir);
    expect(inner(second)).toBe(inner(first));
    expect(cachedTokenizerCount()).toBe(count);

    const later = new Date(Date.now() + 60_000);
    utimesSync(path.join(dir, 'tokenizer.json'), later, later);
    const third = await PromptTokenizer.load(dir);
    expect(inner(third)).not.toBe(inner(first));
    expect(third.encode('a cat').inputIds).toEqual(first.encode('a cat').inputIds);
  });
});

describe('`ovis-image info` shows a bad chat template', () => {
  it('lists it as a problem naming the template file, and exits 1', async () => {
    const { spawnSync } = await import('node:child_process');
    const { rmSync } = await import('node:fs');
    const { linkTree } = await import('./model-helpers.js');
    const model = path.join(tempDir('badtemplate'), 'model');
    linkTree(TINY_DIFFUSERS, model);
    const template = path.join(model, 'tokenizer', 'chat_template.jinja');
    rmSync(template);
    writeFileSync(template, "{{ raise_exception('broken on purpose') }}");
    const bin = path.join(TINY_DIFFUSERS, '..', '..', '..', '..', 'bin', 'ovis-image.js');
    const r = spawnSync(process.execPath, [bin, 'info', '-m', model], { encoding: 'utf8' });
    expect(r.stdout).toContain(`MODEL_BAD_CONFIG: ${template}: unusable chat template: rendering a prompt throws`);
    expect(r.stdout).toContain('broken on purpose');
    expect(r.status).toBe(1);
  }, 60_000);
});
