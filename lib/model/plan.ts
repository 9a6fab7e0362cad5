import { OvisError } from '../errors.js';
import type { FileIdentity } from './types.js';
import { isBlockPlanDType, planDTypeOf, planBytes, numel, type PlanDType } from './dtype.js';
import type { TensorSpec } from './plan-spec.js';
import type { ComponentName, DitConfig, ModelProblem, TensorSource, TextEncoderConfig, VaeConfig } from './types.js';

export interface PlanPiece {
  file: string; // absolute path
  offset: number; // absolute byte offset in `file`
  dtype: PlanDType;
  shape: number[];
  source: string; // the stored key it comes from (for messages; not written to plan text)
}

export interface PlanTensor {
  name: string;
  dtype: PlanDType;
  shape: number[];
  pieces: PlanPiece[];
}

export interface PlanConfigEntry {
  key: string;
  value: number | number[];
}

/** The canonical tensors of a model and where their bytes are (docs/WEIGHTS.md). */
export interface WeightPlan {
  config: PlanConfigEntry[];
  tensors: PlanTensor[];
  /** Every file the pieces name, as it was when its header was checked (absolute path -> identity). */
  files: Map<string, FileIdentity>;
}

export interface ComponentPlan {
  tensors: PlanTensor[];
  problems: ModelProblem[];
  /** Canonical tensors whose pieces are stored in different block formats: dequantized to f32 at load. */
  dequantized: string[];
}

/** Problems of one kind listed one by one; the rest are summed up in one line. */
const MAX_PROBLEMS_PER_KIND = 20;

const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);
const dims = (s: readonly number[]): string => `[${s.join(', ')}]`;

/**
 * Matches a component's specs against its stored tensors: every spec whose pieces are all present,
 * well-shaped and of a float dtype becomes a plan tensor; everything else becomes a problem, as does
 * every stored tensor no spec used (unless `ignore` says it is not ours).
 */
export function buildComponentPlan(args: {
  component: ComponentName;
  source: TensorSource;
  prefix: string;
  specs: TensorSpec[];
  where: string; // the component's file (or shard index) for messages about absent tensors
  ignore?: (key: string) => boolean;
}): ComponentPlan {
  const { component, source, prefix, specs, where } = args;
  const problems = new Map<string, ModelProblem>();
  const listedPerCode = new Map<ModelProblem['code'], number>();
  const overflow = new Map<ModelProblem['code'], { count: number; file: string | undefined; examples: string[] }>();
  const report = (p: Omit<ModelProblem, 'component'>): void => {
    const id = `${p.code} ${p.tensor ?? ''}`;
    if (problems.has(id)) return;
    const listed = listedPerCode.get(p.code) ?? 0;
    if (listed < MAX_PROBLEMS_PER_KIND) {
      listedPerCode.set(p.code, listed + 1);
      problems.set(id, { ...p, component });
      return;
    }
    const more = overflow.get(p.code) ?? { count: 0, file: p.file, examples: [] };
    more.count++;
    if (more.examples.length < 3 && p.tensor) more.examples.push(`'${p.tensor.slice(0, 60)}'`);
    overflow.set(p.code, more);
  };
  const used = new Set<string>();
  const tensors: PlanTensor[] = [];
  const dequantized: string[] = [];
  for (const spec of specs) {
    const pieces: PlanPiece[] = [];
    for (const p of spec.pieces) {
      const key = prefix + p.key;
      used.add(key);
      const stored = source.tensors.get(key);
      if (!stored) {
        report({ code: 'TENSOR_MISSING', file: where, tensor: key, message: `${where}: tensor '${key}' is missing (expected shape ${dims(p.shape)}, for ${spec.name})` });
        continue;
      }
      if (!sameShape(stored.shape, p.shape)) {
        report({ code: 'TENSOR_BAD_SHAPE', file: stored.file, tensor: key, message: `${stored.file}: tensor '${key}' has shape ${dims(stored.shape)}, expected ${dims(p.shape)} from the config (for ${spec.name})` });
        continue;
      }
      const dtype = planDTypeOf(stored.dtype);
      if (!dtype) {
        report({ code: 'SAFETENSORS_BAD_DTYPE', file: stored.file, tensor: key, message: `${stored.file}: tensor '${key}' is ${stored.dtype}; weights must be F32, F16, BF16 or a GGUF block format` });
        continue;
      }
      if (isBlockPlanDType(dtype) && p.shape.length !== 2) {
        report({ code: 'TENSOR_BAD_SHAPE', file: stored.file, tensor: key, message: `${stored.file}: tensor '${key}' is ${stored.dtype} with shape ${dims(p.shape)}; block formats hold only 2-D Linear weights (for ${spec.name})` });
        continue;
      }
      const [first, last] = p.rows ?? [0, p.shape[0] ?? 1];
      const rowElements = numel(p.shape.slice(1));
      pieces.push({
        file: stored.file,
        offset: stored.offset + planBytes(dtype, first * rowElements), // block rows are whole blocks
        dtype,
        shape: p.rows ? [last - first, ...p.shape.slice(1)] : [...p.shape],
        source: key,
      });
    }
    if (pieces.length !== spec.pieces.length) continue;
    // Pieces of one dtype assemble as stored (block rows concatenate whole); mixed dtypes become f32.
    const dtypes = new Set(pieces.map((p) => p.dtype));
    const dtype = dtypes.size === 1 ? (pieces[0]?.dtype ?? 'f32') : 'f32';
    if (dtypes.size > 1 && pieces.some((p) => isBlockPlanDType(p.dtype))) dequantized.push(spec.name);
    tensors.push({ name: spec.name, dtype, shape: [...spec.shape], pieces });
  }
  for (const [key, t] of source.tensors) {
    if (used.has(key) || args.ignore?.(key)) continue;
    report({ code: 'TENSOR_UNEXPECTED', file: t.file, tensor: key, message: `${t.file}: unexpected tensor '${key}' ${dims(t.shape)} (not part of the ${component} this config describes)` });
  }
  const out = [...problems.values()];
  for (const [code, more] of overflow) {
    out.push({ code, component, file: more.file, tensor: undefined, message: `${more.file ?? where}: ${more.count} more ${code} problems (e.g. ${more.examples.join(', ')}): too many tensors that do not fit the ${component}` });
  }
  return { tensors, problems: out, dequantized };
}

export function ditPlanConfig(c: DitConfig): PlanConfigEntry[] {
  return [
    { key: 'dit.in_channels', value: c.inChannels },
    { key: 'dit.out_channels', value: c.outChannels },
    { key: 'dit.num_heads', value: c.numHeads },
    { key: 'dit.head_dim', value: c.headDim },
    { key: 'dit.num_double', value: c.numDouble },
    { key: 'dit.num_single', value: c.numSingle },
    { key: 'dit.context_dim', value: c.contextDim },
    { key: 'dit.mlp_hidden', value: c.mlpHidden },
    { key: 'dit.axes_dims', value: c.axesDims },
    { key: 'dit.theta', value: c.theta },
    { key: 'dit.eps', value: c.eps },
  ];
}

export function textPlanConfig(c: TextEncoderConfig): PlanConfigEntry[] {
  return [
    { key: 'te.hidden', value: c.hidden },
    { key: 'te.layers', value: c.layers },
    { key: 'te.heads', value: c.heads },
    { key: 'te.kv_heads', value: c.kvHeads },
    { key: 'te.head_dim', value: c.headDim },
    { key: 'te.intermediate', value: c.intermediate },
    { key: 'te.vocab', value: c.vocab },
    { key: 'te.eps', value: c.eps },
    { key: 'te.rope_theta', value: c.ropeTheta },
  ];
}

export function vaePlanConfig(c: VaeConfig): PlanConfigEntry[] {
  return [
    { key: 'vae.in_channels', value: c.inChannels },
    { key: 'vae.out_channels', value: c.outChannels },
    { key: 'vae.latent_channels', value: c.latentChannels },
    { key: 'vae.block_out_channels', value: c.blockOutChannels },
    { key: 'vae.layers_per_block', value: c.layersPerBlock },
    { key: 'vae.groups', value: c.groups },
    { key: 'vae.eps', value: c.eps },
    { key: 'vae.scaling_factor', value: c.scalingFactor },
    { key: 'vae.shift_factor', value: c.shiftFactor },
    { key: 'vae.mid_attention', value: c.midAttention ? 1 : 0 },
  ];
}

/** Plan text version (cpp/engine/io/plan.h kPlanVersion must match). */
export const PLAN_VERSION = 2;

/**
 * The plan text that cpp/engine/io/plan.cpp parses (docs/WEIGHTS.md "Plan text"). Paths are JSON
 * strings, so no character in them (newline, quote) can change the plan; each file carries the
 * identity it had when its header was checked, so the engine maps that file or nothing.
 */
export function formatPlanText(plan: WeightPlan): string {
  const files = new Map<string, number>();
  for (const t of plan.tensors) for (const p of t.pieces) if (!files.has(p.file)) files.set(p.file, files.size);
  const lines = [`ovis-plan ${PLAN_VERSION}`];
  for (const [file, index] of files) {
    const id = plan.files.get(file);
    if (!id) throw new OvisError('OVIS_INTERNAL', `weight plan: no identity recorded for ${file}`);
    lines.push(`file ${index} ${id.size} ${id.mtimeNs} ${id.dev} ${id.ino} ${JSON.stringify(file)}`);
  }
  for (const { key, value } of plan.config) lines.push(`config ${key} ${Array.isArray(value) ? value.join(',') : String(value)}`);
  for (const t of plan.tensors) {
    lines.push(`tensor ${t.name} ${t.dtype} ${t.shape.join(',')}`);
    for (const p of t.pieces) lines.push(`piece ${files.get(p.file)} ${p.offset} ${p.dtype} ${p.shape.join(',')}`);
  }
  lines.push('end');
  return lines.join('\n') + '\n';
}
