// AVX2+FMA 6x16 micro-kernel for stride-1 convs that reads its 16 pixels straight from the slab
// (conv_gemm.h): column-matrix row (r, kx) is slab row r from column kx on, so no panel is packed.
// Same register tile and summation order as micro_kernel_avx2.
#include "cpu/gemm/conv_gemm.h"
#include "cpu/gemm/gemm.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

namespace ovis::cpu {

__attribute__((target("avx2,fma"))) void conv_slab_kernel_avx2(int64_t rows, int64_t kw, int64_t ls,
                                                                const float* a, const float* b, float* c,
                                                                int64_t ldc, bool accumulate) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = b + r * ls;
    for (int64_t kx = 0; kx < kw; ++kx) {
      const __m256 b0 = _mm256_loadu_ps(row + kx);
      const __m256 b1 = _mm256_loadu_ps(row + kx + 8);
      __m256 av;
      av = _mm256_broadcast_ss(a + 0);
      c00 = _mm256_fmadd_ps(av, b0, c00);
      c01 = _mm256_fmadd_ps(av, b1, c01);
      av = _mm256_broadcast_ss(a + 1);
      c10 = _mm256_fmadd_ps(av, b0, c10);
      c11 = _mm256_fmadd_ps(av, b1, c11);
      av = _mm256_broadcast_ss(a + 2);
      c20 = _mm256_fmadd_ps(av, b0, c20);
      c21 = _mm256_fmadd_ps(av, b1, c21);
      av = _mm256_broadcast_ss(a + 3);
      c30 = _mm256_fmadd_ps(av, b0, c30);
      c31 = _mm256_fmadd_ps(av, b1, c31);
      av = _mm256_broadcast_ss(a + 4);
      c40 = _mm256_fmadd_ps(av, b0, c40);
      c41 = _mm256_fmadd_ps(av, b1, c41);
      av = _mm256_broadcast_ss(a + 5);
      c50 = _mm256_fmadd_ps(av, b0, c50);
      c51 = _mm256_fmadd_ps(av, b1, c51);
      a += kMR;
    }
  }
  __m256 acc[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
  for (int r = 0; r < kMR; ++r) {
    float* cr = c + r * ldc;
    __m256 v0 = acc[2 * r], v1 = acc[2 * r + 1];
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
