import { z } from 'zod';
import { ModelLoadError } from '../errors.js';
import { describeValue } from './config-limits.js';
import { readRegularFile } from './regular-file.js';

/** Config files and shard indexes are a few KB (a shard index of a big model ~100 KB). */
const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

const count = z.number().int().positive();
const even = count.refine((v) => v % 2 === 0, 'must be even');
const positive = z.number().positive().finite();

/** diffusers `transformer/config.json` (OvisImageTransformer2DModel); also the optional override next to original files. */
export const ditConfigFileSchema = z
  .object({
    patch_size: z.literal(1).optional(),
    in_channels: count.optional(),
    out_channels: count.nullable().optional(),
    num_layers: z.number().int().nonnegative().optional(),
    num_single_layers: z.number().int().nonnegative().optional(),
    attention_head_dim: even.optional(),
    num_attention_heads: count.optional(),
    joint_attention_dim: count.optional(),
    axes_dims_rope: z.array(even).length(3).optional(),
    mlp_ratio: positive.optional(),
    theta: positive.optional(),
  })
  .refine((c) => !c.axes_dims_rope || !c.attention_head_dim || c.axes_dims_rope.reduce((a, b) => a + b, 0) === c.attention_head_dim, {
    message: 'must add up to attention_head_dim',
    path: ['axes_dims_rope'],
  });
export type DitConfigFile = z.infer<typeof ditConfigFileSchema>;

/** Qwen3 `config.json` (diffusers `text_encoder/`, or `llm_config` inside Ovis2.5's config). */
export const qwen3ConfigSchema = z
  .object({
    hidden_size: count,
    num_hidden_layers: count,
    num_attention_heads: count,
    num_key_value_heads: count,
    head_dim: count.optional(),
    intermediate_size: count,
    vocab_size: count,
    rms_norm_eps: positive.optional(),
    rope_theta: positive.optional(),
    rope_parameters: z.object({ rope_theta: positive.optional() }).nullable().optional(),
    attention_bias: z.literal(false, { message: 'attention biases are not supported (Qwen3 has none)' }).optional(),
  })
  .refine((c) => c.num_attention_heads % c.num_key_value_heads === 0, {
    message: 'num_attention_heads must be a multiple of num_key_value_heads',
    path: ['num_key_value_heads'],
  });
export type Qwen3ConfigFile = z.infer<typeof qwen3ConfigSchema>;

/** diffusers `vae/config.json` (AutoencoderKL, FLUX.1 variant). */
export const vaeConfigFileSchema = z
  .object({
    in_channels: count.optional(),
    out_channels: count.optional(),
    latent_channels: count.optional(),
    block_out_channels: z.array(count).min(1).max(8).optional(),
    layers_per_block: count.optional(),
    norm_num_groups: count.optional(),
    scaling_factor: positive.optional(),
    shift_factor: z.number().finite().nullable().optional(),
    mid_block_add_attention: z.boolean().optional(),
    use_quant_conv: z.literal(false, { message: 'quant_conv is not supported (the FLUX VAE has none)' }).optional(),
    use_post_quant_conv: z.literal(false, { message: 'post_quant_conv is not supported (the FLUX VAE has none)' }).optional(),
  })
  .refine((c) => (c.block_out_channels ?? []).every((ch) => ch % (c.norm_num_groups ?? 32) === 0), {
    message: 'every channel count must be divisible by norm_num_groups',
    path: ['block_out_channels'],
  });
export type VaeConfigFile = z.infer<typeof vaeConfigFileSchema>;

/** diffusers `scheduler/scheduler_config.json` (FlowMatchEulerDiscreteScheduler). */
export const schedulerConfigFileSchema = z
  .object({
    base_shift: z.number().finite().optional(),
    max_shift: z.number().finite().optional(),
    base_image_seq_len: count.optional(),
    max_image_seq_len: count.optional(),
    shift: positive.optional(),
    use_dynamic_shifting: z.boolean().optional(),
    num_train_timesteps: count.optional(),
    time_shift_type: z.enum(['exponential', 'linear']).optional(),
    // Options of diffusers' scheduler this engine does not implement: accepted only at their defaults,
    // so a config that relies on one is refused by name instead of running another schedule.
    use_karras_sigmas: notImplemented(false),
    use_exponential_sigmas: notImplemented(false),
    use_beta_sigmas: notImplemented(false),
    invert_sigmas: notImplemented(false),
    stochastic_sampling: notImplemented(false),
    shift_terminal: z.null({ error: 'is not supported by this engine (only null, the default)' }).optional(),
  })
  .refine((c) => (c.max_image_seq_len ?? 4096) > (c.base_image_seq_len ?? 256), {
    message: 'must be greater than base_image_seq_len',
    path: ['max_image_seq_len'],
  });

/** A boolean scheduler option that must keep its default value. */
function notImplemented(value: boolean) {
  return z.literal(value, { error: `is not supported by this engine (only ${value}, the default)` }).optional();
}
export type SchedulerConfigFile = z.infer<typeof schedulerConfigFileSchema>;

/** Reads a JSON file; unreadable or invalid JSON is MODEL_BAD_CONFIG naming the file (special files: MODEL_BAD_FILE). */
export async function readJsonFile(file: string): Promise<unknown> {
  const bytes = await readRegularFile(file, MAX_CONFIG_BYTES, 'MODEL_BAD_CONFIG');
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new ModelLoadError('MODEL_BAD_CONFIG', `${file}: cannot read JSON: ${(err as Error).message}`, { file });
  }
}

function valueAt(root: unknown, keys: readonly PropertyKey[]): unknown {
  let v = root;
  for (const k of keys) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** Validates a config; the first issue becomes MODEL_BAD_CONFIG naming file, field, rule and the value found. */
export function parseConfig<T>(schema: z.ZodType<T>, value: unknown, file: string, fieldPrefix = ''): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const keys = issue?.path ?? [];
  const field = fieldPrefix + keys.map(String).join('.');
  const found = valueAt(value, keys);
  const got = found === undefined ? 'missing' : `got ${describeValue(found)}`;
  throw new ModelLoadError('MODEL_BAD_CONFIG', `${file}: field '${field || '(root)'}': ${issue?.message ?? 'invalid'} (${got})`, { file });
}
