/**
 * `info --check`: reads every weight the plan uses and reports tensors holding NaN or Inf (a
 * damaged checkpoint otherwise only shows as a black image). Reads whole files: slow on 20 GB.
 */
import { ModelLoadError } from '../errors.js';
import { isBlockPlanDType, planBytes } from './dtype.js';
import type { PlanPiece, WeightPlan } from './plan.js';
import { openRegularFile } from './regular-file.js';
import type { ModelProblem } from './types.js';

const CHUNK_BYTES = 16 * 1024 * 1024;

/** Index of the first NaN/Inf among `count` values of `dtype` in `bytes`, or -1. */
export function firstNonFinite(bytes: Buffer, dtype: PlanPiece['dtype']): number {
  if (dtype === 'f32') {
    for (let i = 0; i + 4 <= bytes.length; i += 4) if ((bytes.readUInt32LE(i) & 0x7f800000) === 0x7f800000) return i / 4;
    return -1;
  }
  const mask = dtype === 'bf16' ? 0x7f80 : 0x7c00; // all-ones exponent: Inf or NaN
  for (let i = 0; i + 2 <= bytes.length; i += 2) if ((bytes.readUInt16LE(i) & mask) === mask) return i / 2;
  return -1;
}

async function scanPiece(piece: PlanPiece, tensor: string): Promise<ModelProblem | undefined> {
  // Quantized blocks mix scales and packed integers: only float tensors are scanned.
  if (isBlockPlanDType(piece.dtype)) return undefined;
  const { handle } = await openRegularFile(piece.file, Number.MAX_SAFE_INTEGER);
  try {
    const total = planBytes(piece.dtype, piece.shape.reduce((a, b) => a * b, 1));
    const buf = Buffer.alloc(Math.min(CHUNK_BYTES, total));
    for (let done = 0; done < total; ) {
      const want = Math.min(buf.length, total - done);
      const { bytesRead } = await handle.read(buf, 0, want, piece.offset + done);
      if (bytesRead !== want) throw new ModelLoadError('SAFETENSORS_TRUNCATED', `${piece.file}: tensor '${piece.source}' ends past the end of the file`, { file: piece.file, tensor: piece.source });
      const bad = firstNonFinite(buf.subarray(0, want), piece.dtype);
      if (bad >= 0) {
        const at = done / planBytes(piece.dtype, 1) + bad;
        return { code: 'MODEL_NON_FINITE', component: undefined, file: piece.file, tensor: piece.source, message: `${piece.file}: tensor '${piece.source}' (for ${tensor}) holds NaN or Inf at element ${at}` };
      }
      done += want;
    }
    return undefined;
  } finally {
    await handle.close();
  }
}

/** One problem per stored tensor holding NaN/Inf (each stored tensor read once). */
export async function scanWeights(plan: WeightPlan): Promise<ModelProblem[]> {
  const seen = new Set<string>();
  const problems: ModelProblem[] = [];
  for (const t of plan.tensors) {
    for (const piece of t.pieces) {
      const id = `${piece.file}\0${piece.source}\0${piece.offset}`;
      if (seen.has(id)) continue;
      seen.add(id);
      const p = await scanPiece(piece, t.name);
      if (p) problems.push({ ...p, component: componentOf(t.name) });
    }
  }
  return problems;
}

function componentOf(name: string): ModelProblem['component'] {
  return name.startsWith('dit.') ? 'transformer' : name.startsWith('te.') ? 'textEncoder' : 'vae';
}
