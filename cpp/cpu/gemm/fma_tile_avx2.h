// The 6x16 AVX2+FMA register tile shared by the GEMM micro-kernel (kernel_avx2.cpp) and the direct
// convolution kernel (conv_kernel_avx2.cpp): 12 ymm accumulators (kMR rows x 2 vectors of 8), one A
// broadcast per row and k step. Written once so both kernels keep the same summation order.
#pragma once
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include <cstdint>

#include "cpu/gemm/gemm.h"

// Inlined into callers compiled for AVX2+FMA only; the rest of the binary stays baseline x86-64.
#define OVIS_AVX2_INLINE __attribute__((target("avx2,fma"), always_inline)) inline

namespace ovis::cpu {

using Tile6x16 = __m256[2 * kMR];

OVIS_AVX2_INLINE void tile_zero(Tile6x16& c) {
#pragma GCC unroll 12
  for (int i = 0; i < 2 * kMR; ++i) c[i] = _mm256_setzero_ps();
}

// One k step: c[row] += a[row] * [b0 | b1] for the kMR rows of packed A.
OVIS_AVX2_INLINE void tile_fma_step(Tile6x16& c, const float* a, __m256 b0, __m256 b1) {
#pragma GCC unroll 6
  for (int r = 0; r < kMR; ++r) {
    const __m256 av = _mm256_broadcast_ss(a + r);
    c[2 * r] = _mm256_fmadd_ps(av, b0, c[2 * r]);
    c[2 * r + 1] = _mm256_fmadd_ps(av, b1, c[2 * r + 1]);
  }
}

// Writes (or adds) the tile to C rows of stride ldc.
OVIS_AVX2_INLINE void tile_store(const Tile6x16& c, float* out, int64_t ldc, bool accumulate) {
#pragma GCC unroll 6
  for (int r = 0; r < kMR; ++r) {
    float* cr = out + r * ldc;
    __m256 v0 = c[2 * r], v1 = c[2 * r + 1];
    if (accumulate) {
      v0 = _mm256_add_ps(v0, _mm256_loadu_ps(cr));
      v1 = _mm256_add_ps(v1, _mm256_loadu_ps(cr + 8));
    }
    _mm256_storeu_ps(cr, v0);
    _mm256_storeu_ps(cr + 8, v1);
  }
}

}  // namespace ovis::cpu
#endif
