import { linear, vector, type LinearPart, type TensorSpec } from './plan-spec.js';
import type { DitConfig, WeightFormat } from './types.js';

/**
 * Canonical MMDiT tensors (docs/WEIGHTS.md "MMDiT") and their sources. Each canonical tensor is one
 * statement naming its source in both key formats, `pick(original, diffusers)`, so adding a tensor is
 * one edit here (and one declaration in its C++ model constructor). `comfyText`: the original format
 * with ComfyUI's names for the text input (`txt_in.*`, `txt_norm.scale`, as in ComfyUI and GGUF files
 * made for it), which are otherwise the official ones.
 */
export function ditSpecs(c: DitConfig, format: WeightFormat, comfyText = false): TensorSpec[] {
  const D = c.numHeads * c.headDim;
  const F = c.mlpHidden;
  const pick = picker(format);
  const txtNorm = comfyText ? 'txt_norm.scale' : 'semantic_txt_norm.weight';
  const txtIn = comfyText ? 'txt_in' : 'semantic_txt_in';
  const specs: TensorSpec[] = [
    ...linear('dit.img_in', c.inChannels, [{ key: pick('img_in', 'x_embedder'), out: D }]),
    vector('dit.txt_norm.weight', pick(txtNorm, 'context_embedder_norm.weight'), c.contextDim),
    ...linear('dit.txt_in', c.contextDim, [{ key: pick(txtIn, 'context_embedder'), out: D }]),
    ...linear('dit.time_in.0', 256, [{ key: pick('time_in.in_layer', 'timestep_embedder.linear_1'), out: D }]),
    ...linear('dit.time_in.1', D, [{ key: pick('time_in.out_layer', 'timestep_embedder.linear_2'), out: D }]),
  ];
  for (let n = 0; n < c.numDouble; n++) {
    for (const stream of ['img', 'txt'] as const) specs.push(...doubleStream(n, stream, D, F, c.headDim, pick));
  }
  for (let n = 0; n < c.numSingle; n++) specs.push(...single(n, D, F, c.headDim, pick));
  specs.push(
    // diffusers stores norm_out.linear as [scale; shift]; canonical order is [shift; scale]
    ...linear('dit.final.mod', D, pick<LinearPart[]>([{ key: 'final_layer.adaLN_modulation.1', out: 2 * D }], [
      { key: 'norm_out.linear', out: 2 * D, take: [D, 2 * D] },
      { key: 'norm_out.linear', out: 2 * D, take: [0, D] },
    ])),
    ...linear('dit.final.linear', D, [{ key: pick('final_layer.linear', 'proj_out'), out: c.outChannels }]),
  );
  return specs;
}

/** Chooses the original or the diffusers source of one canonical tensor. */
type Pick = <T>(original: T, diffusers: T) => T;

function picker(format: WeightFormat): Pick {
  return (original, diffusers) => (format === 'original' ? original : diffusers);
}

function doubleStream(n: number, stream: 'img' | 'txt', D: number, F: number, hd: number, pick: Pick): TensorSpec[] {
  const name = `dit.double.${n}.${stream}`;
  const o = `double_blocks.${n}.${stream}`; // original: one key stem per stream
  const d = `transformer_blocks.${n}`; // diffusers: the text stream's layers have their own names
  const img = stream === 'img';
  const ff = img ? 'ff' : 'ff_context';
  const qkv = img ? ['to_q', 'to_k', 'to_v'] : ['add_q_proj', 'add_k_proj', 'add_v_proj'];
  return [
    ...linear(`${name}.mod`, D, [{ key: pick(`${o}_mod.lin`, `${d}.${img ? 'norm1' : 'norm1_context'}.linear`), out: 6 * D }]),
    ...linear(`${name}.qkv`, D, pick([{ key: `${o}_attn.qkv`, out: 3 * D }], qkv.map((p) => ({ key: `${d}.attn.${p}`, out: D })))),
    vector(`${name}.q_norm.weight`, pick(`${o}_attn.norm.query_norm.weight`, `${d}.attn.${img ? 'norm_q' : 'norm_added_q'}.weight`), hd),
    vector(`${name}.k_norm.weight`, pick(`${o}_attn.norm.key_norm.weight`, `${d}.attn.${img ? 'norm_k' : 'norm_added_k'}.weight`), hd),
    ...linear(`${name}.proj`, D, [{ key: pick(`${o}_attn.proj`, `${d}.attn.${img ? 'to_out.0' : 'to_add_out'}`), out: D }]),
    // canonical [up; gate]: two original tensors; diffusers' ff.net.0.proj is already [up; gate]
    ...linear(`${name}.mlp_in`, D, pick([
      { key: `${o}_mlp.up_proj`, out: F },
      { key: `${o}_mlp.gate_proj`, out: F },
    ], [{ key: `${d}.${ff}.net.0.proj`, out: 2 * F }])),
    ...linear(`${name}.mlp_out`, F, [{ key: pick(`${o}_mlp.down_proj`, `${d}.${ff}.net.2`), out: D }]),
  ];
}

function single(n: number, D: number, F: number, hd: number, pick: Pick): TensorSpec[] {
  const name = `dit.single.${n}`;
  const o = `single_blocks.${n}`;
  const d = `single_transformer_blocks.${n}`;
  return [
    ...linear(`${name}.mod`, D, [{ key: pick(`${o}.modulation.lin`, `${d}.norm.linear`), out: 3 * D }]),
    // canonical [q; k; v; up; gate]: one original tensor; diffusers' proj_mlp is already [up; gate]
    ...linear(`${name}.linear1`, D, pick([{ key: `${o}.linear1`, out: 3 * D + 2 * F }], [
      { key: `${d}.attn.to_q`, out: D },
      { key: `${d}.attn.to_k`, out: D },
      { key: `${d}.attn.to_v`, out: D },
      { key: `${d}.proj_mlp`, out: 2 * F },
    ])),
    vector(`${name}.q_norm.weight`, pick(`${o}.norm.query_norm.weight`, `${d}.attn.norm_q.weight`), hd),
    vector(`${name}.k_norm.weight`, pick(`${o}.norm.key_norm.weight`, `${d}.attn.norm_k.weight`), hd),
    ...linear(`${name}.linear2`, D + F, [{ key: pick(`${o}.linear2`, `${d}.proj_out`), out: D }]),
  ];
}
