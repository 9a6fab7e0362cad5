// AVX-512F 12x32 micro-kernel over the same packed panels as the 6x16 ones: two A panels (rows 0-5 and
// 6-11) times two B panels (columns 0-15 and 16-31), 24 zmm accumulators; the wide form reads panels laid
// out one after the other, the 2x2 form (Winograd's products) takes four panels and two outputs anywhere.
// Each output is one FMA chain over k, as in the AVX2 kernel, so results are bitwise equal.
#include "cpu/gemm/gemm.h"
#include "cpu/gemm/zmm_tile_12x32.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

namespace ovis::cpu {

namespace {
// The 12 x 32 tile as four 6 x 16 ones: A panels a0 (rows 0-5) and a1 (rows 6-11), B panels b0 and b1;
// the columns of b0 go to c0, those of b1 to c1 (rows at ldc, rows 6-11 after rows 0-5).
__attribute__((target("avx512f"), always_inline)) inline void tile_12x32(int64_t kc, const float* a0, const float* a1,
                                                                         const float* b0, const float* b1, float* c0,
                                                                         float* c1, int64_t ldc, bool accumulate) {
  static_assert(2 * kMR == kZmmTileRows, "the 12x32 tile is two 6-row A panels");
  if (accumulate) zmm_tile_prefetch(c0, c1, ldc);
  __m512 acc[2 * kZmmTileRows];
  zmm_tile_zero(acc);
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 v0 = _mm512_load_ps(b0 + k * kNR), v1 = _mm512_load_ps(b1 + k * kNR);
#pragma GCC unroll 6
    for (int r = 0; r < kMR; ++r) {
      const __m512 x = _mm512_set1_ps(a0[k * kMR + r]);
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
  zmm_tile_store(acc, c0, c1, ldc, accumulate);
}
}  // namespace

__attribute__((target("avx512f"))) void micro_kernel_avx512_wide(int64_t kc, const float* a, const float* b, float* c,
                                                                 int64_t ldc, bool accumulate) {
  tile_12x32(kc, a, a + kc * kMR, b, b + kc * kNR, c, c + kNR, ldc, accumulate);
}

__attribute__((target("avx512f"))) void micro_kernel_avx512_2x2(int64_t kc, const float* a0, const float* a1,
                                                                const float* b0, const float* b1, float* c0, float* c1,
                                                                int64_t ldc, bool accumulate) {
  tile_12x32(kc, a0, a1, b0, b1, c0, c1, ldc, accumulate);
}

}  // namespace ovis::cpu
#endif
