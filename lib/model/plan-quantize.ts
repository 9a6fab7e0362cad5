import { planBlockElements, type PlanDType } from './dtype.js';
import type { PlanTensor, WeightPlan } from './plan.js';

/** What a component's Linear weights become on load: 'bf16' keeps them as stored, the rest are ggml block formats. */
export const WEIGHT_TYPES = ['bf16', 'q8_0', 'q6_k', 'q5_k', 'q4_k', 'q4_0'] as const;
export type WeightType = (typeof WEIGHT_TYPES)[number];

const FLOATS: readonly PlanDType[] = ['f32', 'f16', 'bf16'];

/** Linear weights of the component (`dit.` or `te.`); the embedding table is looked up, not multiplied. */
function isLinearWeight(t: PlanTensor, prefix: string): boolean {
  return t.name.startsWith(prefix) && t.name.endsWith('.weight') && t.shape.length === 2 && t.name !== 'te.embed.weight';
}

export interface QuantizeResult {
  plan: WeightPlan;
  quantized: number; // tensors marked for quantization
  kept: string[]; // Linear weights left as stored because their rows are not whole blocks
}

/**
 * Marks the float Linear weights of a component for quantization on load (the engine quantizes each
 * row round-to-nearest while assembling). Weights already in a block format stay as they are, and so do
 * weights whose input width is not a multiple of the format's block (e.g. 64 inputs for a 256-value K-quant).
 */
export function quantizeOnLoad(plan: WeightPlan, prefix: 'dit.' | 'te.', type: WeightType): QuantizeResult {
  if (type === 'bf16') return { plan, quantized: 0, kept: [] };
  const block = planBlockElements(type);
  let quantized = 0;
  const kept: string[] = [];
  const tensors = plan.tensors.map((t) => {
    if (!isLinearWeight(t, prefix) || !FLOATS.includes(t.dtype)) return t;
    if ((t.shape[1] ?? 0) % block !== 0) {
      kept.push(t.name);
      return t;
    }
    quantized++;
    return { ...t, dtype: type as PlanDType };
  });
  return { plan: { ...plan, tensors }, quantized, kept };
}
