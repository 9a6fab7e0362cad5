// Config values out of range, and counts larger than the files can hold: clear errors, quickly.
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveModel, type ModelProblem } from '../lib/model/index.js';
import { TINY_DIFFUSERS, TINY_ORIGINAL, linkTree, readRawTensors, tempDir, removeTempDirs, writeRawTensors } from './model-helpers.js';

afterAll(removeTempDirs);

/** tiny-diffusers as links, with `component/` copied so its files can be edited. */
function editableCopy(component: string): string {
  const root = path.join(tempDir('limits'), 'model');
  linkTree(TINY_DIFFUSERS, root);
  const dir = path.join(root, component);
  rmSync(dir, { recursive: true });
  mkdirSync(dir);
  for (const name of readdirSync(path.join(TINY_DIFFUSERS, component))) writeFileSync(path.join(dir, name), readFileSync(path.join(TINY_DIFFUSERS, component, name)));
  return root;
}

function editConfig(root: string, rel: string, edit: (c: Record<string, unknown>) => void): string {
  const file = path.join(root, rel);
  const config = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(config);
  writeFileSync(file, JSON.stringify(config));
  return file;
}

function badConfig(problems: ModelProblem[]): ModelProblem {
  const p = problems.find((x) => x.code === 'MODEL_BAD_CONFIG');
  expect(p, JSON.stringify(problems).slice(0, 2000)).toBeDefined();
  return p!;
}

describe('config floats must be finite and sane', () => {
  it.each([
    ['transformer', 'config.json', 'theta', 1e-300],
    ['transformer', 'config.json', 'theta', 1e300],
    ['text_encoder', 'config.json', 'rope_theta', 1e-300],
    ['text_encoder', 'config.json', 'rms_norm_eps', 10],
    ['vae', 'config.json', 'scaling_factor', 1e-30],
    ['vae', 'config.json', 'shift_factor', 1e30],
    ['scheduler', 'scheduler_config.json', 'base_shift', 1e300],
    ['scheduler', 'scheduler_config.json', 'shift', 1e-9],
  ])('%s %s: %s = %d', async (component, name, field, value) => {
    const root = editableCopy(component);
    const file = editConfig(root, path.join(component, name), (c) => {
      c[field] = value;
    });
    const p = badConfig((await resolveModel(root)).problems);
    expect(p.file).toBe(file);
    expect(p.message).toContain(file);
    expect(p.message).toContain(`'${field}'`);
    expect(p.message).toContain(String(value));
  });
});

describe('counts are bounded by what the files hold', () => {
  it.each([
    ['transformer', 'num_layers', 1e6],
    ['transformer', 'num_single_layers', 20_000],
    ['text_encoder', 'num_hidden_layers', 1e6],
    ['text_encoder', 'num_hidden_layers', 20_000],
    ['text_encoder', 'vocab_size', 4_000_000],
    ['transformer', 'joint_attention_dim', 60_000],
  ])('%s %s = %d: a clear error in well under a second', async (component, field, value) => {
    const root = editableCopy(component);
    const file = editConfig(root, path.join(component, 'config.json'), (c) => {
      c[field] = value;
    });
    const t0 = performance.now();
    const p = badConfig((await resolveModel(root)).problems);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(p.file).toBe(file);
    expect(p.message).toMatch(/must be an integer in|does not describe these weights/);
  });

  it('a block numbered 19999 in a file without a config', async () => {
    const dir = tempDir('blocks');
    linkTree(TINY_ORIGINAL, dir);
    const file = path.join(dir, 'ovis_image.safetensors');
    rmSync(file);
    const tensors = readRawTensors(path.join(TINY_ORIGINAL, 'ovis_image.safetensors'));
    tensors.push({ key: 'double_blocks.19999.img_mod.lin.bias', dtype: 'BF16', shape: [1], data: Buffer.alloc(2) });
    writeRawTensors(file, tensors);
    const p = badConfig((await resolveModel(dir)).problems);
    expect(p.message).toContain(file);
    expect(p.message).toContain('num_layers');
  });

  it('200,000 extra zero-size tensors: one error naming the file', async () => {
    const root = editableCopy('vae');
    const file = path.join(root, 'vae', 'diffusion_pytorch_model.safetensors');
    const tensors = readRawTensors(file);
    for (let i = 0; i < 200_000; i++) tensors.push({ key: `extra.${i}`, dtype: 'BF16', shape: [0], data: Buffer.alloc(0) });
    writeRawTensors(file, tensors);
    const t0 = performance.now();
    const problems = (await resolveModel(root)).problems;
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.code).toBe('SAFETENSORS_BAD_HEADER');
    expect(problems[0]!.message).toContain(file);
    expect(problems[0]!.message).toContain(`holds ${tensors.length} tensors`);
  });

  it('thousands of unexpected tensors are summed up, not listed', async () => {
    const root = editableCopy('vae');
    const file = path.join(root, 'vae', 'diffusion_pytorch_model.safetensors');
    const tensors = readRawTensors(file);
    for (let i = 0; i < 5000; i++) tensors.push({ key: `extra.${i}`, dtype: 'BF16', shape: [0], data: Buffer.alloc(0) });
    writeRawTensors(file, tensors);
    const problems = (await resolveModel(root)).problems.filter((p) => p.code === 'TENSOR_UNEXPECTED');
    expect(problems.length).toBeLessThanOrEqual(21);
    const summary = problems[problems.length - 1]!;
    expect(summary.message).toContain(file);
    expect(summary.message).toContain('4980 more TENSOR_UNEXPECTED');
  });

  it('a deeply nested value in a config is a config error, not a stack overflow', async () => {
    const root = editableCopy('transformer');
    const file = path.join(root, 'transformer', 'config.json');
    const config = readFileSync(file, 'utf8').replace(/"num_layers":\s*\d+/, `"num_layers": ${'['.repeat(100_000)}${']'.repeat(100_000)}`);
    writeFileSync(file, config);
    const p = badConfig((await resolveModel(root)).problems);
    expect(p.message).toContain('num_layers');
    expect(p.message.length).toBeLessThan(500);
  });
});
