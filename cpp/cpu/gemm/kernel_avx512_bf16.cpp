// AVX512-BF16 12x32 micro-kernel: per k pair, two B vectors (32 columns, each lane a bf16 pair) and one
// broadcast A pair per row; `vdpbf16ps` adds both products of a pair into the f32 accumulator.
#include "cpu/gemm/gemm_bf16.h"
#include "cpu/gemm/zmm_tile_12x32.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

namespace ovis::cpu {

__attribute__((target("avx512f,avx512bw,avx512bf16"))) void micro_kernel_bf16_avx512(int64_t kc2, const uint32_t* a,
                                                                                     const uint32_t* b, float* c,
                                                                                     int64_t ldc, bool accumulate,
                                                                                     const float* bias) {
  static_assert(kMRb == kZmmTileRows, "the bf16 tile has the f32 wide tile's rows");
  if (accumulate) zmm_tile_prefetch(c, c + 16, ldc);
  __m512 acc[2 * kZmmTileRows];
  zmm_tile_zero(acc);
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
  zmm_tile_store(acc, c, c + 16, ldc, accumulate, bias);
}

}  // namespace ovis::cpu
#endif
