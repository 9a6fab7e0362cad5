/** Element sizes of every dtype the safetensors format defines (others are rejected as unknown). */
export const SAFETENSORS_DTYPE_SIZES = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
} as const;

export type SafetensorsDType = keyof typeof SAFETENSORS_DTYPE_SIZES;

/** Dtypes the engine reads weights in (plan spelling). */
export type PlanDType = 'f32' | 'f16' | 'bf16';

export function isSafetensorsDType(value: string): value is SafetensorsDType {
  return Object.prototype.hasOwnProperty.call(SAFETENSORS_DTYPE_SIZES, value);
}

/** The plan dtype of a stored weight, or undefined when the engine cannot use that dtype for weights. */
export function planDTypeOf(dtype: SafetensorsDType): PlanDType | undefined {
  switch (dtype) {
    case 'F32':
      return 'f32';
    case 'F16':
      return 'f16';
    case 'BF16':
      return 'bf16';
    default:
      return undefined;
  }
}

export function planDTypeSize(dtype: PlanDType): number {
  return dtype === 'f32' ? 4 : 2;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
