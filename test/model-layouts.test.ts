import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultAxesDims, formatPlanText, resolveModel, type PlanTensor, type ResolvedModel } from '../lib/model/index.js';
import { TINY_DIFFUSERS, TINY_ORIGINAL, linkTree, readBytes, readRawTensors, removeTempDirs, tempDir, writeRawTensors } from './model-helpers.js';

const bytesPerElement = { f32: 4, f16: 2, bf16: 2 } as const;

/** The canonical tensor's bytes, assembled from its pieces with plain fs reads. */
function assemble(t: PlanTensor): Buffer {
  return Buffer.concat(t.pieces.map((p) => readBytes(p.file, p.offset, p.shape.reduce((a, b) => a * b, 1) * bytesPerElement[p.dtype as keyof typeof bytesPerElement])));
}

function summary(m: ResolvedModel): string[] {
  return m.plan.tensors.map((t) => `${t.name} ${t.dtype} ${t.shape.join(',')}`);
}

/** Header of a safetensors file read directly, to check absolute offsets. */
function header(file: string): { dataStart: number; json: Record<string, { data_offsets: [number, number] }> } {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  return { dataStart: 8 + n, json: JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) };
}

describe('tiny golden layouts', async () => {
  const diffusers = await resolveModel(TINY_DIFFUSERS);
  const original = await resolveModel(TINY_ORIGINAL);

  it('detects both layouts without problems in the weights', () => {
    expect(diffusers.layout).toBe('diffusers');
    expect(original.layout).toBe('original');
    expect(diffusers.problems).toEqual([]);
    expect(original.problems).toEqual([]);
    expect(original.components.tokenizer.present).toBe(true);
    expect(original.components.transformer.format).toBe('original');
    expect(original.components.textEncoder.keyPrefix).toBe('llm.model.');
    expect(original.components.vae.hasEncoder).toBe(true);
  });

  it('infers the same configs from the original files as diffusers configs say', () => {
    expect(original.components.transformer.config).toEqual(diffusers.components.transformer.config);
    expect(original.components.transformer.config?.axesDims).toEqual([8, 12, 12]);
    expect(original.components.transformer.configSource?.kind).toBe('inferred');
    expect(original.components.textEncoder.config).toEqual(diffusers.components.textEncoder.config);
    expect(original.components.vae.config).toEqual(diffusers.components.vae.config);
    expect(diffusers.components.scheduler.configSource.kind).toBe('file');
    expect(original.components.scheduler.config).toEqual(diffusers.components.scheduler.config);
    expect(original.plan.config).toEqual(diffusers.plan.config);
  });

  it('plans the same canonical tensors with identical bytes', () => {
    expect(summary(original)).toEqual(summary(diffusers));
    expect(diffusers.plan.tensors.length).toBeGreaterThan(300);
    for (const [i, t] of diffusers.plan.tensors.entries()) {
      const o = original.plan.tensors[i]!;
      const a = assemble(t);
      expect(a.length, t.name).toBe(t.shape.reduce((x, y) => x * y, 1) * 2);
      expect(assemble(o).equals(a), t.name).toBe(true);
    }
    for (const part of ['transformer', 'textEncoder', 'vae'] as const) {
      expect(original.components[part].parameters).toBe(diffusers.components[part].parameters);
      expect(original.components[part].dtypes).toEqual(['bf16']);
    }
  });

  it('covers the documented fusions', () => {
    const byName = new Map(diffusers.plan.tensors.map((t) => [t.name, t]));
    expect(byName.get('dit.single.0.linear1.weight')?.shape).toEqual([3 * 64 + 2 * 256, 64]);
    expect(byName.get('dit.single.0.linear1.weight')?.pieces.map((p) => p.source.split('.').slice(-2)[0])).toEqual(['to_q', 'to_k', 'to_v', 'proj_mlp']);
    expect(byName.get('te.layers.1.mlp_in.weight')?.shape).toEqual([96, 16]);
    expect(byName.get('vae.dec.mid.attn.qkv.weight')?.shape).toEqual([192, 64]);
    const origNames = new Map(original.plan.tensors.map((t) => [t.name, t]));
    expect(origNames.get('vae.dec.up.0.upsample.weight')?.pieces[0]?.source).toBe('decoder.up.3.upsample.conv.weight');
    expect(origNames.has('vae.dec.up.3.upsample.weight')).toBe(false);
  });

  it('writes plan text with absolute files and offsets', () => {
    const text = formatPlanText(diffusers.plan);
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe('ovis-plan 2');
    expect(lines.at(-1)).toBe('end');
    const files = lines.filter((l) => l.startsWith('file ')).map((l) => JSON.parse(l.split(' ').slice(6).join(' ')) as string);
    expect(files.length).toBe(3);
    for (const f of files) expect(path.isAbsolute(f)).toBe(true);
    expect(lines).toContain('config dit.axes_dims 8,12,12');
    expect(lines).toContain('config vae.block_out_channels 32,32,64,64');
    // norm_out.linear is stored [scale; shift]: the plan takes the shift half (rows D..2D) first
    const file = path.join(TINY_DIFFUSERS, 'transformer', 'diffusion_pytorch_model.safetensors');
    const h = header(file);
    const begin = h.dataStart + h.json['norm_out.linear.weight']!.data_offsets[0];
    const at = lines.indexOf('tensor dit.final.mod.weight bf16 128,64');
    expect(at).toBeGreaterThan(0);
    const fileIndex = files.indexOf(file);
    expect(lines[at + 1]).toBe(`piece ${fileIndex} ${begin + 64 * 64 * 2} bf16 64,64`);
    expect(lines[at + 2]).toBe(`piece ${fileIndex} ${begin} bf16 64,64`);
  });

  it('accepts explicit per-component files', async () => {
    const split = await resolveModel({
      transformer: path.join(TINY_ORIGINAL, 'ovis_image.safetensors'),
      textEncoder: path.join(TINY_ORIGINAL, 'Ovis2.5-2B', 'model.safetensors'),
      vae: path.join(TINY_ORIGINAL, 'ae.safetensors'),
      tokenizer: path.join(TINY_DIFFUSERS, 'tokenizer'),
    });
    expect(split.layout).toBe('files');
    expect(split.problems).toEqual([]);
    expect(split.components.textEncoder.configSource?.kind).toBe('inferred');
    expect(summary(split)).toEqual(summary(diffusers));
    expect(split.plan.config).toEqual(diffusers.plan.config);
  });

  it("reads ComfyUI's text-input names (txt_in, txt_norm.scale) in an original-format MMDiT, as the same tensors", async () => {
    const comfy = path.join(tempDir('comfy'), 'ovis_image_comfy.safetensors');
    const rename = (key: string): string =>
      key === 'semantic_txt_norm.weight' ? 'txt_norm.scale' : key.startsWith('semantic_txt_in.') ? `txt_in.${key.slice('semantic_txt_in.'.length)}` : key;
    const tensors = readRawTensors(path.join(TINY_ORIGINAL, 'ovis_image.safetensors'));
    expect(tensors.filter((t) => rename(t.key) !== t.key).map((t) => rename(t.key)).sort()).toEqual(['txt_in.bias', 'txt_in.weight', 'txt_norm.scale']);
    writeRawTensors(comfy, tensors.map((t) => ({ ...t, key: rename(t.key) })));
    const files = {
      textEncoder: path.join(TINY_ORIGINAL, 'Ovis2.5-2B', 'model.safetensors'),
      vae: path.join(TINY_ORIGINAL, 'ae.safetensors'),
      tokenizer: path.join(TINY_DIFFUSERS, 'tokenizer'),
    };
    const m = await resolveModel({ ...files, transformer: comfy });
    expect(m.problems).toEqual([]);
    expect(m.components.transformer.format).toBe('original');
    expect(m.components.transformer.config).toEqual(original.components.transformer.config);
    expect(summary(m)).toEqual(summary(original));
    const byName = new Map(m.plan.tensors.map((t) => [t.name, t]));
    expect(byName.get('dit.txt_in.weight')?.pieces[0]?.source).toBe('txt_in.weight');
    expect(byName.get('dit.txt_norm.weight')?.pieces[0]?.source).toBe('txt_norm.scale');
    for (const t of original.plan.tensors.filter((x) => x.name.startsWith('dit.'))) expect(assemble(byName.get(t.name)!).equals(assemble(t)), t.name).toBe(true);
    // A file with neither name set is still reported against the official name.
    const neither = path.join(tempDir('comfy'), 'no_txt_in.safetensors');
    writeRawTensors(neither, tensors.filter((t) => !t.key.startsWith('semantic_txt_in.')));
    const bad = await resolveModel({ ...files, transformer: neither });
    expect(bad.problems.map((p) => p.message).join('\n')).toMatch(/semantic_txt_in/);
  });

  it('derives RoPE axes from head_dim when no config says, and reads an optional config next to single files', async () => {
    expect(defaultAxesDims(128)).toEqual([16, 56, 56]);
    expect(defaultAxesDims(32)).toEqual([8, 12, 12]);
    const dir = path.join(tempDir('sidecar'), 'model');
    linkTree(TINY_ORIGINAL, dir);
    writeFileSync(path.join(dir, 'ovis_image.config.json'), JSON.stringify({ axes_dims_rope: [4, 14, 14], theta: 2000 }));
    const m = await resolveModel(dir);
    expect(m.problems).toEqual([]);
    expect(m.components.transformer.config?.axesDims).toEqual([4, 14, 14]);
    expect(m.components.transformer.config?.theta).toBe(2000);
    expect(m.components.transformer.configSource).toEqual({ kind: 'file', file: path.join(dir, 'ovis_image.config.json') });
  });
});

afterAll(removeTempDirs);
