// AVX512-BF16 12x32 micro-kernel: per k pair, two B vectors (32 columns, each lane a bf16 pair) and one
// broadcast A pair per row; `vdpbf16ps` adds both products of a pair into the f32 accumulator.
#include "cpu/gemm/gemm_bf16.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

namespace ovis::cpu {

__attribute__((target("avx512f,avx512bw,avx512bf16"))) void micro_kernel_bf16_avx512(int64_t kc2, const uint32_t* a,
                                                                                     const uint32_t* b, float* c,
                                                                                     int64_t ldc, bool accumulate) {
  if (accumulate)  // C rows are usually out of cache: start fetching them while the loop runs
    for (int r = 0; r < kMRb; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + 31), _MM_HINT_T0);
    }
  __m512 acc[2 * kMRb];
#pragma GCC unroll 24
  for (int i = 0; i < 2 * kMRb; ++i) acc[i] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc2; ++k) {
    const __m512bh v0 = (__m512bh)_mm512_loadu_si512(b + k * kNRb);
    const __m512bh v1 = (__m512bh)_mm512_loadu_si512(b + k * kNRb + 16);
    const uint32_t* ak = a + k * kMRb;
#pragma GCC unroll 12
    for (int r = 0; r < kMRb; ++r) {
      const __m512bh x = (__m512bh)_mm512_set1_epi32(int(ak[r]));
      acc[2 * r] = _mm512_dpbf16_ps(acc[2 * r], x, v0);
      acc[2 * r + 1] = _mm512_dpbf16_ps(acc[2 * r + 1], x, v1);
    }
  }
#pragma GCC unroll 12
  for (int r = 0; r < kMRb; ++r) {
    float* cr = c + r * ldc;
    __m512 v0 = acc[2 * r], v1 = acc[2 * r + 1];
    if (accumulate) {
      v0 = _mm512_add_ps(v0, _mm512_loadu_ps(cr));
      v1 = _mm512_add_ps(v1, _mm512_loadu_ps(cr + 16));
    }
    _mm512_storeu_ps(cr, v0);
    _mm512_storeu_ps(cr + 16, v1);
  }
}

}  // namespace ovis::cpu
#endif
