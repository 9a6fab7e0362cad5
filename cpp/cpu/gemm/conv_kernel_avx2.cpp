// AVX2+FMA 6x16 micro-kernel for stride-1 convs that reads its 16 pixels straight from the slab
// (conv_gemm.h): column-matrix row (r, kx) is slab row r from column kx on, so no panel is packed.
// Same register tile and summation order as micro_kernel_avx2 (fma_tile_avx2.h).
#include "cpu/gemm/conv_gemm.h"
#include "cpu/gemm/gemm.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include "cpu/gemm/fma_tile_avx2.h"

namespace ovis::cpu {

__attribute__((target("avx2,fma"))) void conv_slab_kernel_avx2(int64_t rows, int64_t kw, int64_t ls, const float* a,
                                                               const float* b, float* c, int64_t ldc, bool accumulate) {
  Tile6x16 acc;
  tile_zero(acc);
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = b + r * ls;
    for (int64_t kx = 0; kx < kw; ++kx) {
      tile_fma_step(acc, a, _mm256_loadu_ps(row + kx), _mm256_loadu_ps(row + kx + 8));
      a += kMR;
    }
  }
  tile_store(acc, c, ldc, accumulate);
}

}  // namespace ovis::cpu
#endif
