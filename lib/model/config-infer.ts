import { ModelLoadError } from '../errors.js';
import { DIT_LIMITS, MAX_VAE_LEVELS, SCHEDULER_LIMITS, TEXT_LIMITS, VAE_LIMITS, checkLimits, describeValue } from './config-limits.js';
import type { DitConfigFile, Qwen3ConfigFile, SchedulerConfigFile, VaeConfigFile } from './config-schemas.js';
import { RELEASED_DIT, RELEASED_SCHEDULER, RELEASED_TEXT_ENCODER, RELEASED_VAE, defaultAxesDims } from './defaults.js';
import type { DitConfig, SchedulerConfig, TensorSource, TextEncoderConfig, VaeConfig, WeightFormat } from './types.js';

/** Shape lookups on a component's tensors under its key prefix. */
class Shapes {
  constructor(
    private readonly source: TensorSource,
    private readonly prefix: string,
  ) {}
  dim(key: string, axis: number): number | undefined {
    return this.source.tensors.get(this.prefix + key)?.shape[axis];
  }
  /** Number of numbered blocks `<group>.N.` (highest N + 1, so gaps surface as missing tensors). */
  count(group: string): number | undefined {
    const head = this.prefix + group + '.';
    let max = -1;
    for (const key of this.source.tensors.keys()) {
      if (!key.startsWith(head)) continue;
      const n = Number.parseInt(key.slice(head.length), 10);
      if (Number.isSafeInteger(n) && n > max) max = n;
    }
    return max >= 0 ? max + 1 : undefined;
  }
}

function defined<T extends object>(values: { [K in keyof T]?: T[K] | undefined }): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function ditFromShapes(source: TensorSource, format: WeightFormat, prefix: string): Partial<DitConfig> {
  const s = new Shapes(source, prefix);
  const o = format === 'original';
  const dim = s.dim(o ? 'img_in.weight' : 'x_embedder.weight', 0);
  const headDim =
    s.dim(o ? 'double_blocks.0.img_attn.norm.query_norm.weight' : 'transformer_blocks.0.attn.norm_q.weight', 0) ??
    s.dim(o ? 'single_blocks.0.norm.query_norm.weight' : 'single_transformer_blocks.0.attn.norm_q.weight', 0);
  const mlpRows = o ? s.dim('double_blocks.0.img_mlp.up_proj.weight', 0) : s.dim('transformer_blocks.0.ff.net.0.proj.weight', 0);
  return defined<DitConfig>({
    inChannels: s.dim(o ? 'img_in.weight' : 'x_embedder.weight', 1),
    outChannels: s.dim(o ? 'final_layer.linear.weight' : 'proj_out.weight', 0),
    headDim,
    numHeads: dim !== undefined && headDim ? dim / headDim : undefined,
    numDouble: s.count(o ? 'double_blocks' : 'transformer_blocks'),
    numSingle: s.count(o ? 'single_blocks' : 'single_transformer_blocks'),
    contextDim: o ? (s.dim('semantic_txt_in.weight', 1) ?? s.dim('txt_in.weight', 1)) : s.dim('context_embedder.weight', 1),
    mlpHidden: mlpRows === undefined ? undefined : o ? mlpRows : mlpRows / 2,
  });
}

/**
 * MMDiT config: the released defaults, overridden by what the tensor shapes say, overridden by a
 * config file when there is one. The plan then checks every tensor against the result.
 */
export function resolveDitConfig(source: TensorSource, format: WeightFormat, prefix: string, file: DitConfigFile | undefined, where: string): DitConfig {
  const inferred = ditFromShapes(source, format, prefix);
  const fromFile = file
    ? defined<DitConfig>({
        inChannels: file.in_channels,
        outChannels: file.out_channels ?? file.in_channels,
        numHeads: file.num_attention_heads,
        headDim: file.attention_head_dim,
        numDouble: file.num_layers,
        numSingle: file.num_single_layers,
        contextDim: file.joint_attention_dim,
        axesDims: file.axes_dims_rope,
        theta: file.theta,
      })
    : {};
  const merged: DitConfig = { ...RELEASED_DIT, axesDims: [], ...inferred, ...fromFile };
  if (file?.mlp_ratio !== undefined) merged.mlpHidden = Math.round(file.mlp_ratio * merged.numHeads * merged.headDim);
  if (merged.axesDims.length === 0) merged.axesDims = defaultAxesDims(merged.headDim) ?? [];
  checkDit(merged, where);
  return merged;
}

function checkDit(c: DitConfig, where: string): void {
  const bad = (field: string, why: string): never => {
    throw new ModelLoadError('MODEL_BAD_CONFIG', `${where}: transformer ${field}: ${why}`, { file: where });
  };
  if (!Number.isInteger(c.numHeads) && Number.isFinite(c.numHeads)) bad('numHeads', `model width is not a multiple of head_dim ${c.headDim}`);
  checkLimits(c, DIT_LIMITS, 'transformer', where);
  if (c.numDouble + c.numSingle === 0) bad('num_layers', 'the transformer needs at least one double or single block');
  if (c.axesDims.length !== 3 || c.axesDims.some((a) => !Number.isInteger(a) || a <= 0 || a % 2 !== 0) || c.axesDims.reduce((a, b) => a + b, 0) !== c.headDim) {
    bad('axes_dims_rope', `need 3 positive even widths adding up to head_dim ${c.headDim}, got ${describeValue(c.axesDims)}`);
  }
}

function textFromShapes(source: TensorSource, prefix: string): Partial<TextEncoderConfig> {
  const s = new Shapes(source, prefix);
  const headDim = s.dim('layers.0.self_attn.q_norm.weight', 0);
  const per = (rows: number | undefined): number | undefined => (rows !== undefined && headDim ? rows / headDim : undefined);
  return defined<TextEncoderConfig>({
    vocab: s.dim('embed_tokens.weight', 0),
    hidden: s.dim('embed_tokens.weight', 1),
    layers: s.count('layers'),
    headDim,
    heads: per(s.dim('layers.0.self_attn.q_proj.weight', 0)),
    kvHeads: per(s.dim('layers.0.self_attn.k_proj.weight', 0)),
    intermediate: s.dim('layers.0.mlp.up_proj.weight', 0),
  });
}

/** Qwen3 config from its config file when there is one, else from tensor shapes, else the release's. */
export function resolveTextConfig(source: TensorSource, prefix: string, file: Qwen3ConfigFile | undefined, where: string): TextEncoderConfig {
  const c: TextEncoderConfig = file
    ? {
        hidden: file.hidden_size,
        layers: file.num_hidden_layers,
        heads: file.num_attention_heads,
        kvHeads: file.num_key_value_heads,
        headDim: file.head_dim ?? file.hidden_size / file.num_attention_heads,
        intermediate: file.intermediate_size,
        vocab: file.vocab_size,
        eps: file.rms_norm_eps ?? RELEASED_TEXT_ENCODER.eps,
        ropeTheta: file.rope_theta ?? file.rope_parameters?.rope_theta ?? RELEASED_TEXT_ENCODER.ropeTheta,
      }
    : { ...RELEASED_TEXT_ENCODER, ...textFromShapes(source, prefix) };
  checkLimits(c, TEXT_LIMITS, 'text encoder', where);
  if (c.heads % c.kvHeads !== 0) {
    throw new ModelLoadError('MODEL_BAD_CONFIG', `${where}: text encoder heads ${c.heads} is not a multiple of kv_heads ${c.kvHeads}`, { file: where });
  }
  return c;
}

function vaeFromShapes(source: TensorSource, format: WeightFormat, prefix: string): Partial<VaeConfig> {
  const s = new Shapes(source, prefix);
  const o = format === 'original';
  const n = s.count(o ? 'decoder.up' : 'decoder.up_blocks');
  if (n !== undefined && n > MAX_VAE_LEVELS) {
    throw new ModelLoadError('MODEL_BAD_CONFIG', `${source.files[0] ?? 'VAE weights'}: decoder blocks are numbered up to ${n - 1}; a VAE has at most ${MAX_VAE_LEVELS} levels`, { file: source.files[0] ?? '' });
  }
  const channels: number[] = [];
  for (let i = 0; n !== undefined && i < n; i++) {
    // original up.i is resolution i (0 = highest); diffusers up_blocks.i counts from the lowest
    const c = o ? s.dim(`decoder.up.${i}.block.0.conv1.weight`, 0) : s.dim(`decoder.up_blocks.${n - 1 - i}.resnets.0.conv1.weight`, 0);
    if (c === undefined) break;
    channels.push(c);
  }
  const decoderResnets = s.count(o ? 'decoder.up.0.block' : 'decoder.up_blocks.0.resnets');
  return defined<VaeConfig>({
    inChannels: s.dim('encoder.conv_in.weight', 1),
    outChannels: s.dim('decoder.conv_out.weight', 0),
    latentChannels: s.dim('decoder.conv_in.weight', 1),
    blockOutChannels: n !== undefined && channels.length === n ? channels : undefined,
    layersPerBlock: decoderResnets === undefined ? undefined : decoderResnets - 1,
    midAttention: source.tensors.has(prefix + (o ? 'decoder.mid.attn_1.q.weight' : 'decoder.mid_block.attentions.0.to_q.weight')),
  });
}

/** VAE config: the config file when there is one, else tensor shapes over the FLUX.1 defaults. */
export function resolveVaeConfig(source: TensorSource, format: WeightFormat, prefix: string, file: VaeConfigFile | undefined, where: string): VaeConfig {
  const c: VaeConfig = file
    ? {
        ...RELEASED_VAE,
        ...defined<VaeConfig>({
          inChannels: file.in_channels,
          outChannels: file.out_channels,
          latentChannels: file.latent_channels,
          blockOutChannels: file.block_out_channels,
          layersPerBlock: file.layers_per_block,
          groups: file.norm_num_groups,
          scalingFactor: file.scaling_factor,
          shiftFactor: file.shift_factor === null ? 0 : file.shift_factor,
          midAttention: file.mid_block_add_attention,
        }),
      }
    : { ...RELEASED_VAE, ...vaeFromShapes(source, format, prefix) };
  checkLimits(c, VAE_LIMITS, 'VAE', where);
  if (c.blockOutChannels.length === 0 || c.blockOutChannels.length > MAX_VAE_LEVELS) {
    throw new ModelLoadError('MODEL_BAD_CONFIG', `${where}: VAE block_out_channels: expected 1..${MAX_VAE_LEVELS} levels, got ${describeValue(c.blockOutChannels)}`, { file: where });
  }
  c.blockOutChannels.forEach((ch, i) => checkLimits({ [`blockOutChannels[${i}]`]: ch }, { [`blockOutChannels[${i}]`]: VAE_LIMITS['inChannels']! }, 'VAE', where));
  if (c.blockOutChannels.some((ch) => ch % c.groups !== 0)) {
    throw new ModelLoadError('MODEL_BAD_CONFIG', `${where}: VAE sizes are inconsistent (channels [${c.blockOutChannels.join(', ')}], groups ${c.groups}, layers_per_block ${c.layersPerBlock})`, { file: where });
  }
  return c;
}

export function resolveSchedulerConfig(file: SchedulerConfigFile | undefined, where = 'scheduler config'): SchedulerConfig {
  if (!file) return { ...RELEASED_SCHEDULER };
  const c: SchedulerConfig = {
    ...RELEASED_SCHEDULER,
    ...defined<SchedulerConfig>({
      baseShift: file.base_shift,
      maxShift: file.max_shift,
      baseImageSeqLen: file.base_image_seq_len,
      maxImageSeqLen: file.max_image_seq_len,
      shift: file.shift,
      useDynamicShifting: file.use_dynamic_shifting,
      numTrainTimesteps: file.num_train_timesteps,
      timeShiftType: file.time_shift_type,
    }),
  };
  checkLimits(c, SCHEDULER_LIMITS, 'scheduler', where);
  return c;
}
