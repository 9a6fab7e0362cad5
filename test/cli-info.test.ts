import { readFileSync, truncateSync, writeFileSync, rmSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cli, hasStackTrace } from './cli-helpers.js';
import { TINY_DIFFUSERS, TINY_ORIGINAL, linkTree, removeTempDirs, tempDir } from './model-helpers.js';

interface InfoJson {
  layout: string;
  tensors: Array<{ name: string; dtype: string; shape: number[] }>;
  problems: Array<{ code: string; file: string | null; message: string }>;
}

beforeAll(assertBuilt);
afterAll(removeTempDirs);

describe('ovis-image info', () => {
  it('describes both tiny layouts, exit 0, with the same tensors', () => {
    const d = cli(['info', '-m', TINY_DIFFUSERS, '--json']);
    const o = cli(['info', '-m', TINY_ORIGINAL, '--json']);
    expect(d.code, d.stderr).toBe(0);
    expect(o.code, o.stderr).toBe(0);
    const dj = JSON.parse(d.stdout) as InfoJson;
    const oj = JSON.parse(o.stdout) as InfoJson;
    expect(dj.layout).toBe('diffusers');
    expect(oj.layout).toBe('original');
    expect(dj.problems).toEqual([]);
    expect(oj.tensors).toEqual(dj.tensors);
    expect(dj.tensors.length).toBeGreaterThan(300);
  });

  it('prints text with configs and parameter counts, and the tensor list on request', () => {
    const d = cli(['info', '-m', TINY_DIFFUSERS, '--tensors']);
    const o = cli(['info', '-m', TINY_ORIGINAL, '--tensors']);
    expect(d.code).toBe(0);
    expect(d.stdout).toContain('layout: diffusers');
    expect(d.stdout).toContain('axesDims=8,12,12');
    expect(d.stdout).toMatch(/transformer: diffusers keys, bf16, [\d.]+ K parameters/);
    expect(d.stdout).toContain('problems: none');
    const list = (s: string): string[] => s.split('\n').filter((l) => /^ {2}(dit|te|vae)\./.test(l));
    expect(list(o.stdout)).toEqual(list(d.stdout));
  });

  it('prints the plan text', () => {
    const r = cli(['info', '-m', TINY_ORIGINAL, '--plan']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ovis-plan 2\nfile 0 \d+ \d+ \d+ \d+ "\//);
    expect(r.stdout.trimEnd().endsWith('end')).toBe(true);
  });

  it('accepts split files', () => {
    const r = cli([
      'info', '--json',
      '--transformer', path.join(TINY_ORIGINAL, 'ovis_image.safetensors'),
      '--text-encoder', path.join(TINY_DIFFUSERS, 'text_encoder'),
      '--vae', path.join(TINY_ORIGINAL, 'ae.safetensors'),
      '--tokenizer', path.join(TINY_DIFFUSERS, 'tokenizer'),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as InfoJson).layout).toBe('files');
  });

  it('exits non-zero on a damaged copy, naming the file, without a stack trace', () => {
    const root = path.join(tempDir('cli'), 'model');
    linkTree(TINY_DIFFUSERS, root);
    const vae = path.join(root, 'vae');
    rmSync(vae, { recursive: true });
    mkdirSync(vae);
    for (const name of readdirSync(path.join(TINY_DIFFUSERS, 'vae'))) writeFileSync(path.join(vae, name), readFileSync(path.join(TINY_DIFFUSERS, 'vae', name)));
    const file = path.join(vae, 'diffusion_pytorch_model.safetensors');
    truncateSync(file, 5000);
    const r = cli(['info', '-m', root]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(file);
    expect(r.stderr).toContain(file);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^ovis-image: error: /);
    expect(hasStackTrace(r.stdout + r.stderr)).toBe(false);
    const j = cli(['info', '-m', root, '--json']);
    expect(j.code).toBe(1);
    expect((JSON.parse(j.stdout) as InfoJson).problems[0]?.file).toBe(file);
  });

  it('user errors: one line, exit 1; usage errors: exit 2', () => {
    const missing = cli(['info', '-m', '/nonexistent/model']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('ovis-image: error: /nonexistent/model: no such file or folder\n');
    // (plain `info` uses the default Hub model: test/hub-load.test.ts)
    for (const args of [['info', '--bogus'], ['nope'], ['info', '-m', 'x', '--vae', 'y']]) {
      const r = cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^ovis-image: error: /);
      expect(hasStackTrace(r.stderr)).toBe(false);
    }
    const unknown = cli(['info', '-m', tempDir('unknown')]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('not a known model layout');
  });

  it('prints the stack only with OVIS_DEBUG=1', () => {
    const r = cli(['info', '-m', '/nonexistent/model'], { OVIS_DEBUG: '1' });
    expect(r.code).toBe(1);
    expect(hasStackTrace(r.stderr)).toBe(true);
  });
});
