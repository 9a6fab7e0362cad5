// Dequantization of ggml's block formats (the GGUF weight types Q4_0 ... Q6_K) to f32.
// The values equal the formats' reference dequantization exactly (same f32 operations, same order).
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace ovis::cpu {

// Dequantizes `nblocks` consecutive blocks of the block dtype t into dst (nblocks * block_elems values).
void dequantize_blocks(DType t, const void* src, float* dst, int64_t nblocks);

// n values of any weight dtype (f32, f16, bf16 or a block format; n whole blocks) to f32.
void weights_to_f32(const void* src, DType t, float* dst, int64_t n);

}  // namespace ovis::cpu
