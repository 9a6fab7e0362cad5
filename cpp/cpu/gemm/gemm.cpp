// GEMM driver: BLIS-style loops (NC columns -> KC depth -> MC rows -> NR/MR micro-tiles).
// Per (jc, pc) block the threads first pack B together, then each task packs its own MC x KC block of A
// and sweeps its share of the B panels (adding the bias to each tile after the last depth block). The
// blocking never depends on the thread count, so the result is bitwise the same for any number of threads.
#include "cpu/gemm/gemm.h"

#include <algorithm>
#include <cstring>

#include "cpu/gemm/block_loop.h"
#include "cpu/gemm/scratch.h"
#include "cpu/gemm/tile_store.h"
#include "cpu/simd/cpu_features.h"
#include "cpu/thread_pool.h"

namespace ovis::cpu {

MicroKernel micro_kernel() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (use_avx2()) return micro_kernel_avx2;
#endif
  return micro_kernel_portable;
}

MicroKernel wide_micro_kernel() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (use_avx512()) return micro_kernel_avx512_wide;
#endif
  return nullptr;
}

namespace {

thread_local Scratch tls_a_block;
thread_local Scratch tls_b_block;

void run_tile(MicroKernel kern, int64_t kc, const float* a, const float* b, float* C, int64_t ldc, int mr, int nr,
              bool accumulate) {
  run_clipped_tile<kMR, kNR>(C, ldc, mr, nr, accumulate,
                             [&](float* c, int64_t ldc_c, bool acc) { kern(kc, a, b, c, ldc_c, acc); });
}

// The 2kMR x 2kNR tile at A panels q, q+1 and B panels p, p+1 (mr, nr: its rows and columns inside C).
void run_wide_tile(MicroKernel wide, int64_t kc, const float* a, const float* b, float* C, int64_t ldc, int mr, int nr,
                   bool accumulate) {
  run_clipped_tile<2 * kMR, 2 * kNR>(C, ldc, mr, nr, accumulate,
                                     [&](float* c, int64_t ldc_c, bool acc) { wide(kc, a, b, c, ldc_c, acc); });
}

}  // namespace

void gemm(ThreadPool* pool, int64_t M, int64_t N, int64_t K, const PackSourceA& A, const PackSourceB& B, float* C,
          int64_t ldc, const float* bias) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    for (int64_t i = 0; i < M; ++i) {
      std::memset(C + i * ldc, 0, sizeof(float) * size_t(N));
      if (bias) add_bias_tile(C + i * ldc, ldc, 1, int(N), bias);
    }
    return;
  }
  const MicroKernel kern = micro_kernel();
  const MicroKernel wide = wide_micro_kernel();  // pairs of panels at once where AVX-512 allows
  float* bblock = nullptr;
  for_each_gemm_block(
      pool, M, N, K, GemmBlocking{kNC, kKC, kMC, kNR, wide != nullptr},
      [&](const DepthBlock& blk) { bblock = tls_b_block.get(size_t(blk.npanels * blk.kc * kNR)); },
      [&](const DepthBlock& blk, int64_t p) {
        const int64_t j0 = blk.jc + p * kNR;
        B.pack(blk.pc, blk.kc, j0, int(std::min<int64_t>(kNR, blk.jc + blk.nc - j0)), bblock + p * blk.kc * kNR);
      },
      [&](const DepthBlock& blk, const BlockTask& t) {
        const int64_t jc = blk.jc, nc = blk.nc, kc = blk.kc;
        const bool accumulate = !blk.first;
        const float* last_bias = blk.last ? bias : nullptr;  // added once the sums are complete
        const int64_t mpanels = (t.mc + kMR - 1) / kMR;
        float* ablock = tls_a_block.get(size_t(mpanels * kc * kMR));
        for (int64_t q = 0; q < mpanels; ++q)
          A.pack(t.i0 + q * kMR, int(std::min<int64_t>(kMR, t.mc - q * kMR)), blk.pc, kc, ablock + q * kc * kMR);
        // One tile: rows from A panel q (and q + 1 when wide), columns [j0, j0 + nr) from the B panels at bp.
        auto tile = [&](bool is_wide, int64_t q, const float* bp, int64_t j0, int nr) {
          const int64_t r0 = t.i0 + q * kMR;
          const int mr = int(std::min<int64_t>(is_wide ? 2 * kMR : kMR, M - r0));
          const float* a = ablock + q * kc * kMR;
          float* c = C + r0 * ldc + j0;
          if (is_wide)
            run_wide_tile(wide, kc, a, bp, c, ldc, mr, nr, accumulate);
          else
            run_tile(kern, kc, a, bp, c, ldc, mr, nr, accumulate);
          if (last_bias) add_bias_tile(c, ldc, mr, nr, last_bias + j0);
        };
        int64_t p = t.p_begin;
        for (; wide && p + 1 < t.p_end; p += 2) {
          const int64_t j0 = jc + p * kNR;
          const int nr = int(std::min<int64_t>(2 * kNR, jc + nc - j0));
          const float* bp = bblock + p * kc * kNR;
          int64_t q = 0;
          for (; q + 1 < mpanels; q += 2) tile(true, q, bp, j0, nr);
          for (; q < mpanels; ++q)  // an odd last A panel: the narrow kernel on each B panel
            for (int h = 0; h < 2; ++h) tile(false, q, bp + h * kc * kNR, j0 + h * kNR, std::min(kNR, nr - h * kNR));
        }
        for (; p < t.p_end; ++p) {
          const int64_t j0 = jc + p * kNR;
          const int nr = int(std::min<int64_t>(kNR, jc + nc - j0));
          for (int64_t q = 0; q < mpanels; ++q) tile(false, q, bblock + p * kc * kNR, j0, nr);
        }
      });
}

}  // namespace ovis::cpu
