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

/** ggml's block formats (GGUF): values per block and bytes per block; a block never spans two rows. */
export const BLOCK_DTYPES = {
  Q4_0: { elements: 32, bytes: 18 },
  Q4_1: { elements: 32, bytes: 20 },
  Q5_0: { elements: 32, bytes: 22 },
  Q5_1: { elements: 32, bytes: 24 },
  Q8_0: { elements: 32, bytes: 34 },
  Q2_K: { elements: 256, bytes: 84 },
  Q3_K: { elements: 256, bytes: 110 },
  Q4_K: { elements: 256, bytes: 144 },
  Q5_K: { elements: 256, bytes: 176 },
  Q6_K: { elements: 256, bytes: 210 },
} as const;

export type BlockDType = keyof typeof BLOCK_DTYPES;

/** The dtype of a stored tensor: a safetensors dtype, or a block format from a GGUF file. */
export type StoredDType = SafetensorsDType | BlockDType;

/** Dtypes the engine reads weights in (plan spelling): floats and the block formats in lower case. */
export type PlanDType = 'f32' | 'f16' | 'bf16' | Lowercase<BlockDType>;

export function isBlockDType(value: string): value is BlockDType {
  return Object.prototype.hasOwnProperty.call(BLOCK_DTYPES, value);
}

/** Values per block of a plan dtype (1 for floats). */
export function planBlockElements(dtype: PlanDType): number {
  const upper = dtype.toUpperCase();
  return isBlockDType(upper) ? BLOCK_DTYPES[upper].elements : 1;
}

export function isBlockPlanDType(dtype: PlanDType): boolean {
  return planBlockElements(dtype) > 1;
}

/** Bytes of `elements` consecutive values of a plan dtype (whole blocks for block formats). */
export function planBytes(dtype: PlanDType, elements: number): number {
  const upper = dtype.toUpperCase();
  if (isBlockDType(upper)) return (elements / BLOCK_DTYPES[upper].elements) * BLOCK_DTYPES[upper].bytes;
  return elements * (dtype === 'f32' ? 4 : 2);
}

export function isSafetensorsDType(value: string): value is SafetensorsDType {
  return Object.prototype.hasOwnProperty.call(SAFETENSORS_DTYPE_SIZES, value);
}

/** The plan dtype of a stored weight, or undefined when the engine cannot use that dtype for weights. */
export function planDTypeOf(dtype: StoredDType): PlanDType | undefined {
  if (isBlockDType(dtype)) return dtype.toLowerCase() as PlanDType;
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

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
