// AVX-512 packing of row-major F32/BF16 operands into GEMM panels (see pack_avx512.cpp).
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace ovis::cpu {

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// dst[k][j] = w[j0 + j][k0 + k] for j < 16, k < kc (rows of row_len values; t is F32 or BF16).
void pack_weight_panel_avx512(const void* w, DType t, int64_t row_len, int64_t k0, int64_t kc, int64_t j0, float* dst);
// dst[k][i] = a[i0 + i][k0 + k] for i < 6 (kMR), k < kc (rows of row_len values; t is F32 or BF16).
void pack_rows_panel_avx512(const void* a, DType t, int64_t row_len, int64_t i0, int64_t k0, int64_t kc, float* dst);
#endif

}  // namespace ovis::cpu
