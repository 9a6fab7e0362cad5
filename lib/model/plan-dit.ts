import { linear, vector, type TensorSpec } from './plan-spec.js';
import type { DitConfig, WeightFormat } from './types.js';

/** Canonical MMDiT tensors (docs/WEIGHTS.md "MMDiT") and their sources in either key format. */
export function ditSpecs(c: DitConfig, format: WeightFormat): TensorSpec[] {
  const D = c.numHeads * c.headDim;
  const F = c.mlpHidden;
  const o = format === 'original';
  const specs: TensorSpec[] = [
    ...linear('dit.img_in', c.inChannels, [{ key: o ? 'img_in' : 'x_embedder', out: D }]),
    vector('dit.txt_norm.weight', o ? 'semantic_txt_norm.weight' : 'context_embedder_norm.weight', c.contextDim),
    ...linear('dit.txt_in', c.contextDim, [{ key: o ? 'semantic_txt_in' : 'context_embedder', out: D }]),
    ...linear('dit.time_in.0', 256, [{ key: o ? 'time_in.in_layer' : 'timestep_embedder.linear_1', out: D }]),
    ...linear('dit.time_in.1', D, [{ key: o ? 'time_in.out_layer' : 'timestep_embedder.linear_2', out: D }]),
  ];
  for (let n = 0; n < c.numDouble; n++) {
    for (const stream of ['img', 'txt'] as const) specs.push(...doubleStream(n, stream, D, F, c.headDim, o));
  }
  for (let n = 0; n < c.numSingle; n++) specs.push(...single(n, D, F, c.headDim, o));
  specs.push(
    // diffusers stores norm_out.linear as [scale; shift]; canonical order is [shift; scale]
    ...linear('dit.final.mod', D, o ? [{ key: 'final_layer.adaLN_modulation.1', out: 2 * D }] : [
      { key: 'norm_out.linear', out: 2 * D, take: [D, 2 * D] },
      { key: 'norm_out.linear', out: 2 * D, take: [0, D] },
    ]),
    ...linear('dit.final.linear', D, [{ key: o ? 'final_layer.linear' : 'proj_out', out: c.outChannels }]),
  );
  return specs;
}

function doubleStream(n: number, stream: 'img' | 'txt', D: number, F: number, hd: number, o: boolean): TensorSpec[] {
  const name = `dit.double.${n}.${stream}`;
  if (o) {
    const k = `double_blocks.${n}.${stream}`;
    return [
      ...linear(`${name}.mod`, D, [{ key: `${k}_mod.lin`, out: 6 * D }]),
      ...linear(`${name}.qkv`, D, [{ key: `${k}_attn.qkv`, out: 3 * D }]),
      vector(`${name}.q_norm.weight`, `${k}_attn.norm.query_norm.weight`, hd),
      vector(`${name}.k_norm.weight`, `${k}_attn.norm.key_norm.weight`, hd),
      ...linear(`${name}.proj`, D, [{ key: `${k}_attn.proj`, out: D }]),
      ...linear(`${name}.mlp_in`, D, [
        { key: `${k}_mlp.up_proj`, out: F },
        { key: `${k}_mlp.gate_proj`, out: F },
      ]),
      ...linear(`${name}.mlp_out`, F, [{ key: `${k}_mlp.down_proj`, out: D }]),
    ];
  }
  const k = `transformer_blocks.${n}`;
  const img = stream === 'img';
  const qkv = img ? ['to_q', 'to_k', 'to_v'] : ['add_q_proj', 'add_k_proj', 'add_v_proj'];
  const ff = img ? 'ff' : 'ff_context';
  return [
    ...linear(`${name}.mod`, D, [{ key: `${k}.${img ? 'norm1' : 'norm1_context'}.linear`, out: 6 * D }]),
    ...linear(`${name}.qkv`, D, qkv.map((p) => ({ key: `${k}.attn.${p}`, out: D }))),
    vector(`${name}.q_norm.weight`, `${k}.attn.${img ? 'norm_q' : 'norm_added_q'}.weight`, hd),
    vector(`${name}.k_norm.weight`, `${k}.attn.${img ? 'norm_k' : 'norm_added_k'}.weight`, hd),
    ...linear(`${name}.proj`, D, [{ key: `${k}.attn.${img ? 'to_out.0' : 'to_add_out'}`, out: D }]),
    // ff.net.0.proj is already [up; gate]
    ...linear(`${name}.mlp_in`, D, [{ key: `${k}.${ff}.net.0.proj`, out: 2 * F }]),
    ...linear(`${name}.mlp_out`, F, [{ key: `${k}.${ff}.net.2`, out: D }]),
  ];
}

function single(n: number, D: number, F: number, hd: number, o: boolean): TensorSpec[] {
  const name = `dit.single.${n}`;
  if (o) {
    const k = `single_blocks.${n}`;
    return [
      ...linear(`${name}.mod`, D, [{ key: `${k}.modulation.lin`, out: 3 * D }]),
      ...linear(`${name}.linear1`, D, [{ key: `${k}.linear1`, out: 3 * D + 2 * F }]),
      vector(`${name}.q_norm.weight`, `${k}.norm.query_norm.weight`, hd),
      vector(`${name}.k_norm.weight`, `${k}.norm.key_norm.weight`, hd),
      ...linear(`${name}.linear2`, D + F, [{ key: `${k}.linear2`, out: D }]),
    ];
  }
  const k = `single_transformer_blocks.${n}`;
  return [
    ...linear(`${name}.mod`, D, [{ key: `${k}.norm.linear`, out: 3 * D }]),
    ...linear(`${name}.linear1`, D, [
      { key: `${k}.attn.to_q`, out: D },
      { key: `${k}.attn.to_k`, out: D },
      { key: `${k}.attn.to_v`, out: D },
      { key: `${k}.proj_mlp`, out: 2 * F }, // [up; gate]
    ]),
    vector(`${name}.q_norm.weight`, `${k}.attn.norm_q.weight`, hd),
    vector(`${name}.k_norm.weight`, `${k}.attn.norm_k.weight`, hd),
    ...linear(`${name}.linear2`, D + F, [{ key: `${k}.proj_out`, out: D }]),
  ];
}
