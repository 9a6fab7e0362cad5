/**
 * precision 'bf16' on the CPU needs AVX512-BF16 (bf16 dot products); without it the engine computes
 * in f32. This is the one line that says so, shown once in the 'backend' load progress (`--verbose`).
 */
import type { NativeBinding } from '../../types/native.js';

/** The note for a CPU engine asked for `precision`, or undefined when there is nothing to say. */
export function cpuPrecisionNote(binding: NativeBinding, precision: 'bf16' | 'fp32' | undefined): string | undefined {
  if (precision !== 'bf16' || typeof binding.cpuFeatures !== 'function') return undefined;
  if (binding.cpuFeatures().avx512bf16) return "precision 'bf16' on the CPU: bf16 linear layers and attention (AVX512-BF16)";
  return "precision 'bf16' on the CPU: this CPU has no AVX512-BF16 (or OVIS_CPU_ISA caps it), computing in f32";
}
