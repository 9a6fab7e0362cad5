// Round-to-nearest quantizers for quantize-on-load (bf16/f16 checkpoints to ggml block formats).
// Q8_0 and Q4_0 are ggml's reference quantizers (absmax scale, the same rounding). For the K-quants each
// sub-block gets the scale (and min) that maps its range onto the format's levels, and values round to
// the nearest level: ggml's reference searches scales that lower the error, so ours add slightly more.
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace ovis::cpu {

// True for the formats quantize_values can write: Q8_0, Q4_0, Q4_K, Q5_K, Q6_K.
bool can_quantize(DType t);

// Quantizes n values (whole blocks of t) from src into dst (dtype_bytes(t, n) bytes).
void quantize_values(DType t, const float* src, void* dst, int64_t n);

}  // namespace ovis::cpu
