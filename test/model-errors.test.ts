import { readFileSync, readdirSync, rmSync, truncateSync, writeFileSync, mkdirSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelLoadError } from '../lib/errors.js';
import { assertUsable, readSafetensorsHeader, resolveModel, type ModelProblem } from '../lib/model/index.js';
import { TINY_DIFFUSERS, linkTree, readRawTensors, tempDir, writeRawTensors, removeTempDirs } from './model-helpers.js';

const TRANSFORMER = 'diffusion_pytorch_model.safetensors';

/** tiny-diffusers as symlinks, with `component/` replaced by real copies we may damage. */
function damagedCopy(component?: string): { root: string; dir: string } {
  const root = path.join(tempDir('bad'), 'model');
  linkTree(TINY_DIFFUSERS, root);
  const dir = path.join(root, component ?? 'transformer');
  if (component) {
    rmSync(dir, { recursive: true });
    mkdirSync(dir);
    for (const name of readdirSync(path.join(TINY_DIFFUSERS, component))) {
      writeFileSync(path.join(dir, name), readFileSync(path.join(TINY_DIFFUSERS, component, name)));
    }
  }
  return { root, dir };
}

async function rejectsWith(p: Promise<unknown>, code: string, mention: string): Promise<ModelLoadError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ModelLoadError);
  const e = err as ModelLoadError;
  expect(e.code).toBe(code);
  expect(e.message).toContain(mention);
  return e;
}

function onlyProblem(problems: ModelProblem[], code: string): ModelProblem {
  const found = problems.filter((p) => p.code === code);
  expect(found.length, JSON.stringify(problems)).toBeGreaterThan(0);
  return found[0]!;
}

afterAll(removeTempDirs);

describe('model resolution errors', () => {
  it('missing path', async () => {
    await rejectsWith(resolveModel('/nonexistent/ovis-model'), 'MODEL_NOT_FOUND', '/nonexistent/ovis-model');
    await rejectsWith(resolveModel({ transformer: '/nonexistent/x.safetensors' }), 'MODEL_NOT_FOUND', 'transformer');
  });

  it('a folder that is no known layout', async () => {
    const dir = tempDir('empty');
    writeFileSync(path.join(dir, 'notes.txt'), 'hello');
    await rejectsWith(resolveModel(dir), 'MODEL_UNKNOWN_LAYOUT', dir);
  });

  it('a missing component', async () => {
    const { root } = damagedCopy();
    rmSync(path.join(root, 'vae'), { recursive: true });
    const model = await resolveModel(root);
    const p = onlyProblem(model.problems, 'MODEL_MISSING_COMPONENT');
    expect(p.component).toBe('vae');
    expect(p.message).toContain(path.join(root, 'vae'));
    expect(() => assertUsable(model)).toThrow(ModelLoadError);
    expect(() => assertUsable(model, ['transformer', 'textEncoder'])).not.toThrow();
  });

  it('sharded checkpoints, and a missing shard', async () => {
    const { dir } = damagedCopy('transformer');
    const tensors = readRawTensors(path.join(dir, TRANSFORMER));
    unlinkSync(path.join(dir, TRANSFORMER));
    const half = Math.floor(tensors.length / 2);
    const shards = ['diffusion_pytorch_model-00001-of-00002.safetensors', 'diffusion_pytorch_model-00002-of-00002.safetensors'];
    writeRawTensors(path.join(dir, shards[0]!), tensors.slice(0, half));
    writeRawTensors(path.join(dir, shards[1]!), tensors.slice(half));
    const weightMap = Object.fromEntries(tensors.map((t, i) => [t.key, shards[i < half ? 0 : 1]]));
    writeFileSync(path.join(dir, `${TRANSFORMER}.index.json`), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const good = await resolveModel(path.dirname(dir));
    expect(good.problems).toEqual([]);
    expect(good.components.transformer.files.map((f) => path.basename(f))).toEqual(shards);

    unlinkSync(path.join(dir, shards[1]!));
    const bad = await resolveModel(path.dirname(dir));
    const p = onlyProblem(bad.problems, 'MODEL_MISSING_COMPONENT');
    expect(p.message).toContain(shards[1]);
    expect(p.file).toBe(path.join(dir, shards[1]!));
  });

  it('a truncated safetensors file', async () => {
    const { root, dir } = damagedCopy('vae');
    const file = path.join(dir, TRANSFORMER);
    truncateSync(file, Math.floor(readFileSync(file).length / 2));
    await rejectsWith(readSafetensorsHeader(file), 'SAFETENSORS_TRUNCATED', file);
    const p = onlyProblem((await resolveModel(root)).problems, 'SAFETENSORS_TRUNCATED');
    expect(p.file).toBe(file);
    expect(p.component).toBe('vae');
    truncateSync(file, 100); // inside the header
    await rejectsWith(readSafetensorsHeader(file), 'SAFETENSORS_TRUNCATED', file);
    truncateSync(file, 5);
    await rejectsWith(readSafetensorsHeader(file), 'SAFETENSORS_TRUNCATED', file);
  });

  it('an absurd header length', async () => {
    const file = path.join(tempDir('absurd'), 'x.safetensors');
    const buf = Buffer.alloc(64, 0x20);
    buf.writeBigUInt64LE(1n << 40n);
    writeFileSync(file, buf);
    await rejectsWith(readSafetensorsHeader(file), 'SAFETENSORS_BAD_HEADER', 'absurd');
  });

  it('an invalid header JSON', async () => {
    const file = path.join(tempDir('json'), 'x.safetensors');
    const json = Buffer.from('{"a": {"dtype": "F32", "shape": [1], ');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    writeFileSync(file, Buffer.concat([len, json, Buffer.alloc(4)]));
    await rejectsWith(readSafetensorsHeader(file), 'SAFETENSORS_BAD_HEADER', 'JSON');
  });

  it('an unknown dtype, and a known dtype weights cannot have', async () => {
    const { root, dir } = damagedCopy('transformer');
    const file = path.join(dir, TRANSFORMER);
    const tensors = readRawTensors(file);
    writeRawTensors(file, tensors, (h) => {
      (h['x_embedder.bias'] as { dtype: string }).dtype = 'F7';
    });
    const e = await rejectsWith(readSafetensorsHeader(file), 'SAFETENSORS_BAD_DTYPE', "'F7'");
    expect(e.tensor).toBe('x_embedder.bias');
    writeRawTensors(file, tensors, (h) => {
      const t = h['x_embedder.bias'] as { dtype: string; shape: number[] };
      t.dtype = 'I16'; // same byte size as BF16: a readable header, but no weight dtype
    });
    const p = onlyProblem((await resolveModel(root)).problems, 'SAFETENSORS_BAD_DTYPE');
    expect(p.tensor).toBe('x_embedder.bias');
    expect(p.file).toBe(file);
  });

  it('offsets outside the file', async () => {
    const { dir } = damagedCopy('transformer');
    const file = path.join(dir, TRANSFORMER);
    writeRawTensors(file, readRawTensors(file), (h) => {
      const t = h['proj_out.bias'] as { data_offsets: [number, number] };
      t.data_offsets = [t.data_offsets[0] + 10_000_000, t.data_offsets[1] + 10_000_000];
    });
    const e = await rejectsWith(readSafetensorsHeader(file), 'SAFETENSORS_BAD_OFFSETS', 'outside');
    expect(e.tensor).toBe('proj_out.bias');
  });

  it('overlapping offsets', async () => {
    const { dir } = damagedCopy('transformer');
    const file = path.join(dir, TRANSFORMER);
    const tensors = readRawTensors(file);
    writeRawTensors(file, tensors, (h) => {
      const a = h[tensors[0]!.key] as { data_offsets: [number, number] };
      const b = h[tensors[1]!.key] as { data_offsets: [number, number] };
      b.data_offsets = [a.data_offsets[0] + 2, a.data_offsets[0] + 2 + (b.data_offsets[1] - b.data_offsets[0])];
    });
    await rejectsWith(readSafetensorsHeader(file), 'SAFETENSORS_BAD_OFFSETS', 'overlaps');
  });

  it('a shape that does not match the offsets', async () => {
    const { dir } = damagedCopy('transformer');
    const file = path.join(dir, TRANSFORMER);
    writeRawTensors(file, readRawTensors(file), (h) => {
      (h['proj_out.bias'] as { shape: number[] }).shape = [65];
    });
    await rejectsWith(readSafetensorsHeader(file), 'SAFETENSORS_BAD_OFFSETS', "'proj_out.bias'");
  });

  it('a tensor with a wrong shape, a missing one and an unexpected one', async () => {
    const { root, dir } = damagedCopy('transformer');
    const file = path.join(dir, TRANSFORMER);
    const tensors = readRawTensors(file).filter((t) => t.key !== 'proj_out.bias');
    tensors.push({ key: 'extra.weight', dtype: 'BF16', shape: [2], data: Buffer.alloc(4) });
    writeRawTensors(file, tensors, (h) => {
      (h['transformer_blocks.0.attn.to_q.weight'] as { shape: number[] }).shape = [32, 128];
    });
    const model = await resolveModel(root);
    const shape = onlyProblem(model.problems, 'TENSOR_BAD_SHAPE');
    expect(shape.tensor).toBe('transformer_blocks.0.attn.to_q.weight');
    expect(shape.file).toBe(file);
    expect(shape.message).toContain('[32, 128]');
    expect(shape.message).toContain('[64, 64]');
    expect(onlyProblem(model.problems, 'TENSOR_MISSING').tensor).toBe('proj_out.bias');
    expect(onlyProblem(model.problems, 'TENSOR_UNEXPECTED').tensor).toBe('extra.weight');
    expect(model.plan.tensors.some((t) => t.name === 'dit.double.0.img.qkv.weight')).toBe(false);
    expect(() => assertUsable(model)).toThrow(ModelLoadError);
  });

  it('a config with nonsense values', async () => {
    const { root, dir } = damagedCopy('transformer');
    const file = path.join(dir, 'config.json');
    const config = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...config, num_attention_heads: -3 }));
    const p = onlyProblem((await resolveModel(root)).problems, 'MODEL_BAD_CONFIG');
    expect(p.file).toBe(file);
    expect(p.message).toContain('num_attention_heads');
    expect(p.message).toContain('-3');
    writeFileSync(file, JSON.stringify({ ...config, axes_dims_rope: [8, 12, 14] }));
    expect(onlyProblem((await resolveModel(root)).problems, 'MODEL_BAD_CONFIG').message).toContain('axes_dims_rope');
    writeFileSync(file, '{ not json');
    expect(onlyProblem((await resolveModel(root)).problems, 'MODEL_BAD_CONFIG').file).toBe(file);
  });

  it('a nonsense text encoder config nested in llm_config', async () => {
    const { root, dir } = damagedCopy('text_encoder');
    const file = path.join(dir, 'config.json');
    const config = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ llm_config: { ...config, num_key_value_heads: 3 } }));
    const p = onlyProblem((await resolveModel(root)).problems, 'MODEL_BAD_CONFIG');
    expect(p.message).toContain('llm_config.num_key_value_heads');
  });

  it('ComfyUI files with a key prefix', async () => {
    const dir = tempDir('comfy');
    const orig = path.join(TINY_DIFFUSERS, '..', 'tiny-original');
    const file = path.join(dir, 'ovis_image_bf16.safetensors');
    writeRawTensors(file, readRawTensors(path.join(orig, 'ovis_image.safetensors')).map((t) => ({ ...t, key: `model.diffusion_model.${t.key}` })));
    const model = await resolveModel({
      transformer: file,
      textEncoder: path.join(orig, 'Ovis2.5-2B', 'model.safetensors'),
      vae: path.join(orig, 'ae.safetensors'),
      tokenizer: path.join(TINY_DIFFUSERS, 'tokenizer', 'tokenizer.json'),
    });
    expect(model.problems).toEqual([]);
    expect(model.components.transformer.keyPrefix).toBe('model.diffusion_model.');
  });
});
