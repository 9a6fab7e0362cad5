// AVX-512 variant of the stride-1 direct conv kernel (conv_kernel_avx2.cpp): 6 rows x 32 pixels (two
// slab panels) in 12 zmm accumulators. Every output gets the same FMA chain over the same k order as in
// the AVX2 kernel, so the two give the same bits.
#include "cpu/gemm/conv_gemm.h"
#include "cpu/gemm/gemm.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

namespace ovis::cpu {

__attribute__((target("avx512f"))) void conv_slab_kernel_avx512_x2(int64_t rows, int64_t kw, int64_t ls, const float* a,
                                                                   const float* b, float* c, int64_t ldc,
                                                                   bool accumulate) {
  __m512 acc[2 * kMR];
#pragma GCC unroll 12
  for (int i = 0; i < 2 * kMR; ++i) acc[i] = _mm512_setzero_ps();
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = b + r * ls;
    for (int64_t kx = 0; kx < kw; ++kx, a += kMR) {
      const __m512 b0 = _mm512_loadu_ps(row + kx), b1 = _mm512_loadu_ps(row + kx + kNR);
#pragma GCC unroll 6
      for (int m = 0; m < kMR; ++m) {
        const __m512 av = _mm512_set1_ps(a[m]);
        acc[2 * m] = _mm512_fmadd_ps(av, b0, acc[2 * m]);
        acc[2 * m + 1] = _mm512_fmadd_ps(av, b1, acc[2 * m + 1]);
      }
    }
  }
#pragma GCC unroll 6
  for (int m = 0; m < kMR; ++m) {
    float* cr = c + m * ldc;
    __m512 v0 = acc[2 * m], v1 = acc[2 * m + 1];
    if (accumulate) {
      v0 = _mm512_add_ps(v0, _mm512_loadu_ps(cr));
      v1 = _mm512_add_ps(v1, _mm512_loadu_ps(cr + kNR));
    }
    _mm512_storeu_ps(cr, v0);
    _mm512_storeu_ps(cr + kNR, v1);
  }
}

}  // namespace ovis::cpu
#endif
