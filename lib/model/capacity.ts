/**
 * A config must fit the files it describes: a config.json that says 1,000 layers next to a file of
 * 28 would otherwise surface as thousands of "missing tensor" lines, and huge widths as absurd sizes.
 */
import { ModelLoadError } from '../errors.js';
import { numel } from './dtype.js';
import type { TensorSpec } from './plan-spec.js';
import type { TensorSource } from './types.js';

/** Bytes per element of the most compact tensor the files hold (2 for bf16, ~0.33 for Q2_K blocks). */
function minBytesPerWeight(source: TensorSource): number {
  let min = 2;
  for (const t of source.tensors.values()) {
    const n = numel(t.shape);
    if (n > 0 && t.byteLength > 0) min = Math.min(min, t.byteLength / n);
  }
  return min;
}

export function checkCapacity(component: string, specs: readonly TensorSpec[], source: TensorSource, prefix: string, where: string): void {
  const keys = new Set<string>();
  let elements = 0;
  for (const spec of specs) {
    for (const p of spec.pieces) keys.add(prefix + p.key);
    elements += numel(spec.shape);
  }
  let missing = 0;
  for (const key of keys) if (!source.tensors.has(key)) missing++;
  const files = source.files.length === 1 ? source.files[0] : `${source.files.length} files`;
  if (missing > Math.max(32, keys.size / 2)) {
    throw new ModelLoadError(
      'MODEL_BAD_CONFIG',
      `${where}: the ${component} config describes ${keys.size} stored tensors, but ${missing} of them are not in ${files} (which holds ${source.tensors.size}): the config does not describe these weights (layer counts?)`,
      { file: where },
    );
  }
  let dataBytes = 0;
  for (const t of source.tensors.values()) dataBytes += t.byteLength;
  const needBytes = Math.ceil(elements * minBytesPerWeight(source));
  // Twice the data: a few missing or misshapen tensors are reported one by one, not here.
  if (needBytes > 2 * dataBytes) {
    throw new ModelLoadError(
      'MODEL_BAD_CONFIG',
      `${where}: the ${component} config needs ${elements} weights (at least ${needBytes} bytes), but ${files} holds only ${dataBytes} bytes of tensors: the config does not describe these weights (widths?)`,
      { file: where },
    );
  }
}
