// The edges of the 12x32 AVX-512 register tile (24 zmm accumulators, rows at 2r and 2r + 1), shared by the
// f32 kernel (kernel_avx512.cpp) and the bf16 one (kernel_avx512_bf16.cpp): fetching C before the k loop, and
// writing or adding the finished tile. Columns 0-15 of row r go to c0 + r * ldc, columns 16-31 to c1 + r * ldc.
#pragma once
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include <cstdint>

#define OVIS_AVX512_INLINE __attribute__((target("avx512f"), always_inline)) inline

namespace ovis::cpu {

constexpr int kZmmTileRows = 12;

// C rows are usually out of cache when accumulating: start fetching them while the k loop runs.
OVIS_AVX512_INLINE void zmm_tile_prefetch(const float* c0, const float* c1, int64_t ldc) {
  for (int r = 0; r < kZmmTileRows; ++r) {
    _mm_prefetch(reinterpret_cast<const char*>(c0 + r * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c1 + r * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c1 + r * ldc + 15), _MM_HINT_T0);  // an unaligned row's last line
  }
}

OVIS_AVX512_INLINE void zmm_tile_zero(__m512 (&acc)[2 * kZmmTileRows]) {
#pragma GCC unroll 24
  for (int i = 0; i < 2 * kZmmTileRows; ++i) acc[i] = _mm512_setzero_ps();
}

// bias (or null): 32 values added to every row after the sum is complete, (acc + C) + bias, the order of
// adding it in a later pass.
OVIS_AVX512_INLINE void zmm_tile_store(const __m512 (&acc)[2 * kZmmTileRows], float* c0, float* c1, int64_t ldc,
                                       bool accumulate, const float* bias = nullptr) {
  const __m512 b0 = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
  const __m512 b1 = bias ? _mm512_loadu_ps(bias + 16) : _mm512_setzero_ps();
#pragma GCC unroll 12
  for (int r = 0; r < kZmmTileRows; ++r) {
    float* r0 = c0 + r * ldc;
    float* r1 = c1 + r * ldc;
    __m512 v0 = acc[2 * r], v1 = acc[2 * r + 1];
    if (accumulate) {
      v0 = _mm512_add_ps(v0, _mm512_loadu_ps(r0));
      v1 = _mm512_add_ps(v1, _mm512_loadu_ps(r1));
    }
    if (bias) {
      v0 = _mm512_add_ps(v0, b0);
      v1 = _mm512_add_ps(v1, b1);
    }
    _mm512_storeu_ps(r0, v0);
    _mm512_storeu_ps(r1, v1);
  }
}

}  // namespace ovis::cpu
#endif
