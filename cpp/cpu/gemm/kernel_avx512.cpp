// AVX-512F 12x32 micro-kernel over the same packed panels as the 6x16 ones: two A panels (rows 0-5 and
// 6-11, the second kc * kMR floats after the first) times two B panels (columns 0-15 and 16-31), 24 zmm
// accumulators. Each output is one FMA chain over k, as in the AVX2 kernel, so results are bitwise equal.
#include "cpu/gemm/gemm.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

namespace ovis::cpu {

__attribute__((target("avx512f"))) void micro_kernel_avx512_wide(int64_t kc, const float* a, const float* b, float* c,
                                                                 int64_t ldc, bool accumulate) {
  constexpr int kRows = 2 * kMR;
  if (accumulate)  // C rows are usually out of cache: start fetching them while the loop runs
    for (int r = 0; r < kRows; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + 31), _MM_HINT_T0);
    }
  const float* a1 = a + kc * kMR;
  const float* b1 = b + kc * kNR;
  __m512 acc[2 * kRows];
#pragma GCC unroll 24
  for (int i = 0; i < 2 * kRows; ++i) acc[i] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 v0 = _mm512_load_ps(b + k * kNR), v1 = _mm512_load_ps(b1 + k * kNR);
#pragma GCC unroll 6
    for (int r = 0; r < kMR; ++r) {
      const __m512 x = _mm512_set1_ps(a[k * kMR + r]);
      acc[2 * r] = _mm512_fmadd_ps(x, v0, acc[2 * r]);
      acc[2 * r + 1] = _mm512_fmadd_ps(x, v1, acc[2 * r + 1]);
    }
#pragma GCC unroll 6
    for (int r = 0; r < kMR; ++r) {
      const __m512 x = _mm512_set1_ps(a1[k * kMR + r]);
      acc[2 * (kMR + r)] = _mm512_fmadd_ps(x, v0, acc[2 * (kMR + r)]);
      acc[2 * (kMR + r) + 1] = _mm512_fmadd_ps(x, v1, acc[2 * (kMR + r) + 1]);
    }
  }
#pragma GCC unroll 12
  for (int r = 0; r < kRows; ++r) {
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
