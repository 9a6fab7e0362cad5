// GEMM driver: BLIS-style loops (NC columns -> KC depth -> MC rows -> NR/MR micro-tiles).
// Per (jc, pc) block the threads first pack B together, then each task packs its own MC x KC block of A
// and sweeps its share of the B panels (adding the bias to each tile after the last depth block). The
// blocking never depends on the thread count, so the result is bitwise the same for any number of threads.
#include "cpu/gemm/gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>

#include "core/error.h"
#include "cpu/gemm/scratch.h"
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
  if (mr == kMR && nr == kNR) {
    kern(kc, a, b, C, ldc, accumulate);
    return;
  }
  alignas(64) float tmp[kMR * kNR];
  kern(kc, a, b, tmp, kNR, false);
  for (int r = 0; r < mr; ++r) {
    float* cr = C + r * ldc;
    const float* tr = tmp + r * kNR;
    if (accumulate)
      for (int j = 0; j < nr; ++j) cr[j] += tr[j];
    else
      for (int j = 0; j < nr; ++j) cr[j] = tr[j];
  }
}

// The 2kMR x 2kNR tile at A panels q, q+1 and B panels p, p+1 (mr, nr: its rows and columns inside C).
void run_wide_tile(MicroKernel wide, int64_t kc, const float* a, const float* b, float* C, int64_t ldc, int mr, int nr,
                   bool accumulate) {
  constexpr int kRows = 2 * kMR, kCols = 2 * kNR;
  if (mr == kRows && nr == kCols) {
    wide(kc, a, b, C, ldc, accumulate);
    return;
  }
  alignas(64) float tmp[kRows * kCols];
  wide(kc, a, b, tmp, kCols, false);
  for (int r = 0; r < mr; ++r) {
    float* cr = C + r * ldc;
    const float* tr = tmp + r * kCols;
    if (accumulate)
      for (int j = 0; j < nr; ++j) cr[j] += tr[j];
    else
      for (int j = 0; j < nr; ++j) cr[j] = tr[j];
  }
}

// C[mr x nr] += bias per column, while the finished tile is still in L1.
void add_bias(float* C, int64_t ldc, int mr, int nr, const float* bias) {
  for (int r = 0; r < mr; ++r) {
    float* cr = C + r * ldc;
    for (int j = 0; j < nr; ++j) cr[j] += bias[j];
  }
}

}  // namespace

void gemm(ThreadPool* pool, int64_t M, int64_t N, int64_t K, const PackSourceA& A, const PackSourceB& B, float* C,
          int64_t ldc, const float* bias) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    for (int64_t i = 0; i < M; ++i) {
      std::memset(C + i * ldc, 0, sizeof(float) * size_t(N));
      if (bias) add_bias(C + i * ldc, ldc, 1, int(N), bias);
    }
    return;
  }
  const MicroKernel kern = micro_kernel();
  const MicroKernel wide = wide_micro_kernel();  // pairs of panels at once where AVX-512 allows
  // Small products are not worth waking the workers.
  const bool parallel = pool && pool->size() > 1 && double(M) * double(N) * double(K) > 3.0e5;
  const int threads = parallel ? pool->size() : 1;
  auto for_each = [&](int64_t n, const std::function<void(int64_t)>& fn) {
    if (parallel)
      pool->parallel_for(n, fn);
    else
      for (int64_t i = 0; i < n; ++i) fn(i);
  };

  for (int64_t jc = 0; jc < N; jc += kNC) {
    const int64_t nc = std::min(kNC, N - jc);
    const int64_t npanels = (nc + kNR - 1) / kNR;
    for (int64_t pc = 0; pc < K; pc += kKC) {
      const int64_t kc = std::min(kKC, K - pc);
      const bool accumulate = pc > 0;
      const float* last_bias = pc + kc == K ? bias : nullptr;  // added once the sums are complete
      float* bblock = tls_b_block.get(size_t(npanels * kc * kNR));
      for_each(npanels, [&](int64_t p) {
        const int64_t j0 = jc + p * kNR;
        B.pack(pc, kc, j0, int(std::min<int64_t>(kNR, jc + nc - j0)), bblock + p * kc * kNR);
      });

      const int64_t ic_blocks = (M + kMC - 1) / kMC;
      // Enough tasks for balance (dynamic scheduling); splitting the panels only re-packs a small A block.
      int64_t nsplit = (int64_t(8) * threads + ic_blocks - 1) / ic_blocks;
      nsplit = std::max<int64_t>(1, std::min(nsplit, npanels));
      if (threads == 1) nsplit = 1;
      int64_t per_split = (npanels + nsplit - 1) / nsplit;
      if (wide) per_split += per_split % 2;  // whole pairs of B panels per task
      for_each(ic_blocks * nsplit, [&](int64_t t) {
        const int64_t ib = t / nsplit, s = t % nsplit;
        const int64_t p_begin = s * per_split, p_end = std::min(npanels, p_begin + per_split);
        if (p_begin >= p_end) return;
        const int64_t i0 = ib * kMC, mc = std::min(kMC, M - i0);
        const int64_t mpanels = (mc + kMR - 1) / kMR;
        float* ablock = tls_a_block.get(size_t(mpanels * kc * kMR));
        for (int64_t q = 0; q < mpanels; ++q)
          A.pack(i0 + q * kMR, int(std::min<int64_t>(kMR, mc - q * kMR)), pc, kc, ablock + q * kc * kMR);
        int64_t p = p_begin;
        for (; wide && p + 1 < p_end; p += 2) {
          const int64_t j0 = jc + p * kNR;
          const int nr = int(std::min<int64_t>(2 * kNR, jc + nc - j0));
          const float* bp = bblock + p * kc * kNR;
          int64_t q = 0;
          for (; q + 1 < mpanels; q += 2) {
            const int64_t r0 = i0 + q * kMR;
            const int mr = int(std::min<int64_t>(2 * kMR, M - r0));
            run_wide_tile(wide, kc, ablock + q * kc * kMR, bp, C + r0 * ldc + j0, ldc, mr, nr, accumulate);
            if (last_bias) add_bias(C + r0 * ldc + j0, ldc, mr, nr, last_bias + j0);
          }
          for (; q < mpanels; ++q)  // an odd last A panel: the narrow kernel on each B panel
            for (int h = 0; h < 2; ++h) {
              const int64_t r0 = i0 + q * kMR;
              const int mr = int(std::min<int64_t>(kMR, M - r0));
              const int nrh = std::min(kNR, nr - h * kNR);
              run_tile(kern, kc, ablock + q * kc * kMR, bp + h * kc * kNR, C + r0 * ldc + j0 + h * kNR, ldc, mr, nrh,
                       accumulate);
              if (last_bias) add_bias(C + r0 * ldc + j0 + h * kNR, ldc, mr, nrh, last_bias + j0 + h * kNR);
            }
        }
        for (; p < p_end; ++p) {
          const int64_t j0 = jc + p * kNR;
          const int nr = int(std::min<int64_t>(kNR, jc + nc - j0));
          const float* bp = bblock + p * kc * kNR;
          for (int64_t q = 0; q < mpanels; ++q) {
            const int64_t r0 = i0 + q * kMR;
            const int mr = int(std::min<int64_t>(kMR, M - r0));
            run_tile(kern, kc, ablock + q * kc * kMR, bp, C + r0 * ldc + j0, ldc, mr, nr, accumulate);
            if (last_bias) add_bias(C + r0 * ldc + j0, ldc, mr, nr, last_bias + j0);
          }
        }
      });
    }
  }
}

}  // namespace ovis::cpu
