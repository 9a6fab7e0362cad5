import { linear, vector, type TensorSpec } from './plan-spec.js';
import type { TextEncoderConfig } from './types.js';

/** Canonical Qwen3 tensors (docs/WEIGHTS.md "Text encoder"); keys are Qwen3Model's without prefix. */
export function textEncoderSpecs(c: TextEncoderConfig): TensorSpec[] {
  const H = c.hidden;
  const q = c.heads * c.headDim;
  const kv = c.kvHeads * c.headDim;
  const specs: TensorSpec[] = [{ name: 'te.embed.weight', shape: [c.vocab, H], pieces: [{ key: 'embed_tokens.weight', shape: [c.vocab, H] }] }];
  for (let n = 0; n < c.layers; n++) {
    const k = `layers.${n}`;
    const name = `te.layers.${n}`;
    specs.push(
      vector(`${name}.attn_norm.weight`, `${k}.input_layernorm.weight`, H),
      ...linear(`${name}.qkv`, H, [
        { key: `${k}.self_attn.q_proj`, out: q },
        { key: `${k}.self_attn.k_proj`, out: kv },
        { key: `${k}.self_attn.v_proj`, out: kv },
      ], false),
      vector(`${name}.q_norm.weight`, `${k}.self_attn.q_norm.weight`, c.headDim),
      vector(`${name}.k_norm.weight`, `${k}.self_attn.k_norm.weight`, c.headDim),
      ...linear(`${name}.o`, q, [{ key: `${k}.self_attn.o_proj`, out: H }], false),
      vector(`${name}.mlp_norm.weight`, `${k}.post_attention_layernorm.weight`, H),
      ...linear(`${name}.mlp_in`, H, [
        { key: `${k}.mlp.up_proj`, out: c.intermediate },
        { key: `${k}.mlp.gate_proj`, out: c.intermediate },
      ], false),
      ...linear(`${name}.mlp_out`, c.intermediate, [{ key: `${k}.mlp.down_proj`, out: H }], false),
    );
  }
  specs.push(vector('te.norm.weight', 'norm.weight', H));
  return specs;
}

/** Stored keys that belong to the Ovis2.5 checkpoint but not to the text encoder. */
export function isIgnoredTextKey(key: string): boolean {
  return /^(visual_tokenizer\.|vte\.|llm\.lm_head|lm_head\.)/.test(key);
}
