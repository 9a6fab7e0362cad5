/**
 * Plan text that does not depend on where the repository is checked out: files under `root` are
 * written as `/@golden/<path relative to root>`. The C++ tests (cpp/tests/golden_plan.cpp) read such
 * a plan and put the golden fixture folder back in place of `/@golden`.
 */
import path from 'node:path';
import { formatPlanText, type WeightPlan } from '../../lib/model/index.js';

export const PORTABLE_ROOT = '/@golden';

export function portablePlanText(plan: WeightPlan, root: string): string {
  const portable = (file: string): string => {
    const rel = path.relative(root, file);
    if (rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`${file} is not under ${root}`);
    return `${PORTABLE_ROOT}/${rel.split(path.sep).join('/')}`;
  };
  // Identities are machine-specific: all zero, and the C++ tests map these files unchecked.
  const zero = { size: 0n, mtimeNs: 0n, dev: 0n, ino: 0n };
  return formatPlanText({
    ...plan,
    tensors: plan.tensors.map((t) => ({ ...t, pieces: t.pieces.map((p) => ({ ...p, file: portable(p.file) })) })),
    files: new Map(plan.tensors.flatMap((t) => t.pieces.map((p) => [portable(p.file), zero] as const))),
  });
}
