/**
 * GGUF transformers (test/fixtures/golden/gguf/ovis_image-mixed.gguf: the tiny MMDiT with official key
 * names, every ggml block type mixed): resolving split files, prefixes, sidecar configs and model
 * folders into a plan that keeps blocks as stored; clear errors for unsupported types, shapes that are
 * not whole blocks and truncated files; `info` shows the types and size.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelLoadError } from '../lib/errors.js';
import { assertUsable, resolveModel } from '../lib/model/index.js';
import { readGgufRaw, writeGguf, type RawGgufTensor } from './helpers/gguf-writer.js';
import { assertBuilt, cli } from './cli-helpers.js';
import { golden } from './helpers/golden-manifest.js';

const GGUF = golden('gguf/ovis_image-mixed.gguf');
const caseJson = JSON.parse(readFileSync(golden('gguf/g1/case.json'), 'utf8')) as { tensor_types: Record<string, string> };

const split = (transformer: string) => ({
  transformer,
  textEncoder: golden('tiny-original/Ovis2.5-2B'),
  vae: golden('tiny-original/ae.safetensors'),
});

let dir: string;
let raw: RawGgufTensor[];
beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'ovis-gguf-'));
  raw = await readGgufRaw(GGUF);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function variant(name: string, change: (tensors: RawGgufTensor[]) => RawGgufTensor[]): string {
  const file = path.join(dir, name);
  writeFileSync(file, writeGguf(change(raw.map((t) => ({ ...t })))));
  return file;
}

async function loadError(transformer: string): Promise<ModelLoadError> {
  const err = await resolveModel(split(transformer)).then((m) => assertUsable(m)).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ModelLoadError);
  return err as ModelLoadError;
}

describe('GGUF transformer', () => {
  it('plans every tensor in its stored block type; pieces of mixed types become f32', async () => {
    const m = assertUsable(await resolveModel(split(GGUF)));
    const t = m.components.transformer;
    expect(t.format).toBe('original');
    const byName = new Map(m.plan.tensors.map((x) => [x.name, x]));
    expect(byName.get('dit.double.0.img.qkv.weight')?.dtype).toBe('q8_0');
    expect(byName.get('dit.time_in.0.weight')?.dtype).toBe('q2_k');
    expect(byName.get('dit.single.0.linear1.weight')?.dtype).toBe('f16');
    expect(byName.get('dit.double.0.img.proj.weight')?.dtype).toBe('bf16');
    // img_mlp up (Q5_1) + gate (Q4_0) make mlp_in: kept out of block conversion, dequantized at load
    expect(byName.get('dit.double.0.img.mlp_in.weight')?.dtype).toBe('f32');
    expect(t.dequantized).toContain('dit.double.0.img.mlp_in.weight');
    expect(caseJson.tensor_types['double_blocks.0.img_attn.qkv.weight']).toBe('Q8_0');
    // the q8_0 weight [192, 64] is 192 rows of 2 blocks of 34 bytes
    const qkv = byName.get('dit.double.0.img.qkv.weight')!;
    expect(qkv.pieces).toHaveLength(1);
    expect(t.bytes).toBeGreaterThan(0);
    expect(t.bytes).toBeLessThan(readFileSync(GGUF).length * 2); // mixed-type tensors are f32
  });

  it('reads keys with the model.diffusion_model. prefix', async () => {
    const file = variant('prefixed.gguf', (ts) => ts.map((x) => ({ ...x, name: `model.diffusion_model.${x.name}` })));
    const m = assertUsable(await resolveModel(split(file)));
    expect(m.components.transformer.keyPrefix).toBe('model.diffusion_model.');
    const plain = assertUsable(await resolveModel(split(GGUF)));
    expect(m.plan.tensors.map((x) => [x.name, x.dtype])).toEqual(plain.plan.tensors.map((x) => [x.name, x.dtype]));
  });

  it('applies the <stem>.json sidecar config', async () => {
    const sub = path.join(dir, 'sidecar');
    mkdirSync(sub);
    const file = path.join(sub, 'ovis_image-mixed.gguf');
    copyFileSync(GGUF, file);
    writeFileSync(path.join(sub, 'ovis_image-mixed.json'), JSON.stringify({ num_attention_heads: 4, attention_head_dim: 16, axes_dims_rope: [4, 6, 6] }));
    const m = await resolveModel(split(file));
    expect(m.components.transformer.configSource).toEqual({ kind: 'file', file: path.join(sub, 'ovis_image-mixed.json') });
    expect(m.components.transformer.config?.numHeads).toBe(4);
  });

  it('is found in an official model folder and in a diffusers transformer/ folder', async () => {
    const official = path.join(dir, 'official');
    mkdirSync(official);
    copyFileSync(GGUF, path.join(official, 'ovis_image-Q4_0.gguf'));
    symlinkSync(golden('tiny-original/ae.safetensors'), path.join(official, 'ae.safetensors'));
    symlinkSync(golden('tiny-original/Ovis2.5-2B'), path.join(official, 'Ovis2.5-2B'));
    const m = assertUsable(await resolveModel(official));
    expect(m.components.transformer.files).toEqual([path.join(official, 'ovis_image-Q4_0.gguf')]);

    const diffusers = path.join(dir, 'diffusers');
    mkdirSync(path.join(diffusers, 'transformer'), { recursive: true });
    for (const name of ['model_index.json', 'scheduler', 'text_encoder', 'tokenizer', 'vae']) symlinkSync(golden(`tiny-diffusers/${name}`), path.join(diffusers, name));
    copyFileSync(GGUF, path.join(diffusers, 'transformer', 'ovis_image-Q4_0.gguf'));
    const d = assertUsable(await resolveModel(diffusers));
    expect(d.components.transformer.format).toBe('original');
    expect(d.plan.tensors.find((x) => x.name === 'dit.double.0.img.qkv.weight')?.dtype).toBe('q8_0');
  });

  it('rejects an unsupported type, naming the file, tensor and type', async () => {
    const file = variant('iq2.gguf', (ts) => ts.map((x) => (x.name === 'double_blocks.0.img_attn.qkv.weight' ? { ...x, type: 16 } : x)));
    const err = await loadError(file);
    expect(err.code).toBe('GGUF_BAD_TYPE');
    expect(err.message).toContain(file);
    expect(err.message).toContain("'double_blocks.0.img_attn.qkv.weight'");
    expect(err.message).toContain('IQ2_XXS');
    expect(err.tensor).toBe('double_blocks.0.img_attn.qkv.weight');
  });

  it('rejects a shape whose rows are not whole blocks', async () => {
    const file = variant('shape.gguf', (ts) => ts.map((x) => (x.name === 'time_in.in_layer.weight' ? { ...x, dims: [128, 128] } : x)));
    const err = await loadError(file);
    expect(err.code).toBe('TENSOR_BAD_SHAPE');
    expect(err.message).toMatch(/'time_in\.in_layer\.weight' \(Q2_K\).*not whole Q2_K blocks of 256/);
  });

  it('rejects a truncated file, naming the tensor that runs past its end', async () => {
    const file = path.join(dir, 'truncated.gguf');
    const bytes = readFileSync(GGUF);
    writeFileSync(file, bytes.subarray(0, bytes.length - 1000));
    const err = await loadError(file);
    expect(err.code).toBe('GGUF_TRUNCATED');
    expect(err.message).toContain(file);
    expect(err.tensor).toBeDefined();
    expect(err.message).toContain(`'${err.tensor}'`);

    const head = path.join(dir, 'header-cut.gguf');
    writeFileSync(head, bytes.subarray(0, 3000));
    expect((await loadError(head)).code).toBe('GGUF_TRUNCATED');
  });

  it('rejects a file that is not GGUF', async () => {
    const file = path.join(dir, 'not.gguf');
    writeFileSync(file, 'GGML plus some text that is not a GGUF header at all');
    const err = await loadError(file);
    expect(err.code).toBe('GGUF_BAD_HEADER');
    expect(err.message).toContain(file);
  });

  it('info shows the block types and the size', () => {
    assertBuilt();
    const r = cli(['info', '--transformer', GGUF, '--text-encoder', golden('tiny-original/Ovis2.5-2B'), '--vae', golden('tiny-original/ae.safetensors')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const line = r.stdout.split('\n').find((l) => l.startsWith('transformer:'))!;
    expect(line).toMatch(/bf16\/f16\/f32\/q2_k\/q3_k\/q4_0\/q4_1\/q4_k\/q5_0\/q5_1\/q5_k\/q6_k\/q8_0/);
    expect(line).toMatch(/, \d+\.\d MB$/);
    expect(r.stdout).toContain('dequantized to f32 at load');
  });
});
