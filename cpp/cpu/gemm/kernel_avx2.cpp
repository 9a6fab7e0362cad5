// AVX2+FMA 6x16 micro-kernel: the shared register tile (fma_tile_avx2.h), 2 B vectors per k step.
// Compiled with a target attribute so the rest of the binary stays baseline x86-64.
#include "cpu/gemm/gemm.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include "cpu/gemm/fma_tile_avx2.h"

namespace ovis::cpu {

__attribute__((target("avx2,fma"))) void micro_kernel_avx2(int64_t kc, const float* a, const float* b, float* c,
                                                           int64_t ldc, bool accumulate) {
  if (accumulate)  // C rows are usually out of cache: start fetching them while the loop runs
    for (int r = 0; r < kMR; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + 15), _MM_HINT_T0);
    }
  Tile6x16 acc;
  tile_zero(acc);
  for (int64_t k = 0; k < kc; ++k) {
    tile_fma_step(acc, a, _mm256_load_ps(b), _mm256_load_ps(b + 8));
    a += kMR;
    b += kNR;
  }
  tile_store(acc, c, ldc, accumulate);
}

}  // namespace ovis::cpu
#endif
