// bf16 GEMM driver (see gemm_bf16.h): the BLIS-style loops of gemm.cpp with 12x32 tiles of k pairs.
// Operands write bf16 pair panels directly where they can (pack_bf16.cpp: f32 activations, bf16
// weights); others (f16, quantized blocks, strided) pack f32 panels that are then rounded. The blocking
// depends only on the shapes, so results are bitwise the same for any number of threads.
#include "cpu/gemm/gemm_bf16.h"

#include <algorithm>
#include <cstring>
#include <functional>

#include "cpu/gemm/scratch.h"
#include "cpu/simd/cpu_features.h"
#include "cpu/thread_pool.h"

namespace ovis::cpu {

namespace {

thread_local Scratch tls_a_pairs;     // the task's A block, bf16 pairs
thread_local Scratch tls_b_pairs;     // the shared B block, bf16 pairs (one per calling thread)
thread_local Scratch tls_f32_panels;  // f32 panels before rounding

uint32_t pair_bits(float lo, float hi) {
  return uint32_t(f32_to_bf16_bits(lo)) | (uint32_t(f32_to_bf16_bits(hi)) << 16);
}

// dst[kk * kMRb + r] = pair of A(i0 + r, k0 + 2kk), A(i0 + r, k0 + 2kk + 1); zero past mr rows or kc.
void pack_a_pairs(const PackSourceA& A, int64_t i0, int mr, int64_t k0, int64_t kc, uint32_t* dst) {
  if (A.pack_bf16_pairs(i0, mr, k0, kc, dst)) return;
  const int64_t kc2 = (kc + 1) / 2;
  float* f = tls_f32_panels.get(size_t(2 * kc2 * kMR * 2));
  float* f1 = f + 2 * kc2 * kMR;
  A.pack(i0, std::min(mr, kMR), k0, kc, f);
  if (mr > kMR)
    A.pack(i0 + kMR, mr - kMR, k0, kc, f1);
  else
    std::memset(f1, 0, sizeof(float) * size_t(kc) * kMR);
  if (kc % 2) {  // the odd last k: its pair partner is zero
    std::memset(f + kc * kMR, 0, sizeof(float) * kMR);
    std::memset(f1 + kc * kMR, 0, sizeof(float) * kMR);
  }
  for (int64_t kk = 0; kk < kc2; ++kk) {
    uint32_t* d = dst + kk * kMRb;
    const float* p0 = f + 2 * kk * kMR;
    const float* p1 = f1 + 2 * kk * kMR;
    for (int r = 0; r < kMR; ++r) d[r] = pair_bits(p0[r], p0[kMR + r]);
    for (int r = 0; r < kMR; ++r) d[kMR + r] = pair_bits(p1[r], p1[kMR + r]);
  }
}

// dst[kk * kNRb + j] = pair of B(k0 + 2kk, j0 + j), B(k0 + 2kk + 1, j0 + j); zero past nr columns or kc.
void pack_b_pairs(const PackSourceB& B, int64_t k0, int64_t kc, int64_t j0, int nr, uint32_t* dst) {
  if (B.pack_bf16_pairs(k0, kc, j0, nr, dst)) return;
  const int64_t kc2 = (kc + 1) / 2;
  float* f = tls_f32_panels.get(size_t(2 * kc2 * kNR * 2));
  float* f1 = f + 2 * kc2 * kNR;
  B.pack(k0, kc, j0, std::min(nr, kNR), f);
  if (nr > kNR)
    B.pack(k0, kc, j0 + kNR, nr - kNR, f1);
  else
    std::memset(f1, 0, sizeof(float) * size_t(kc) * kNR);
  if (kc % 2) {
    std::memset(f + kc * kNR, 0, sizeof(float) * kNR);
    std::memset(f1 + kc * kNR, 0, sizeof(float) * kNR);
  }
  for (int64_t kk = 0; kk < kc2; ++kk) {
    uint32_t* d = dst + kk * kNRb;
    const float* p0 = f + 2 * kk * kNR;
    const float* p1 = f1 + 2 * kk * kNR;
    for (int j = 0; j < kNR; ++j) d[j] = pair_bits(p0[j], p0[kNR + j]);
    for (int j = 0; j < kNR; ++j) d[kNR + j] = pair_bits(p1[j], p1[kNR + j]);
  }
}

uint32_t* pairs(Scratch& s, int64_t n) { return reinterpret_cast<uint32_t*>(s.get(size_t(n))); }

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
void run_tile(int64_t kc2, const uint32_t* a, const uint32_t* b, float* C, int64_t ldc, int mr, int nr,
              bool accumulate) {
  if (mr == kMRb && nr == kNRb) {
    micro_kernel_bf16_avx512(kc2, a, b, C, ldc, accumulate);
    return;
  }
  alignas(64) float tmp[kMRb * kNRb];
  micro_kernel_bf16_avx512(kc2, a, b, tmp, kNRb, false);
  for (int r = 0; r < mr; ++r) {
    float* cr = C + r * ldc;
    const float* tr = tmp + r * kNRb;
    if (accumulate)
      for (int j = 0; j < nr; ++j) cr[j] += tr[j];
    else
      for (int j = 0; j < nr; ++j) cr[j] = tr[j];
  }
}
#endif

}  // namespace

bool gemm_bf16_available() { return use_avx512_bf16(); }

void gemm_bf16(ThreadPool* pool, int64_t M, int64_t N, int64_t K, const PackSourceA& A, const PackSourceB& B, float* C,
               int64_t ldc) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (!gemm_bf16_available() || M <= 0 || N <= 0 || K <= 0) return gemm(pool, M, N, K, A, B, C, ldc);
  const bool parallel = pool && pool->size() > 1 && double(M) * double(N) * double(K) > 3.0e5;
  const int threads = parallel ? pool->size() : 1;
  auto for_each = [&](int64_t n, const std::function<void(int64_t)>& fn) {
    if (parallel)
      pool->parallel_for(n, fn);
    else
      for (int64_t i = 0; i < n; ++i) fn(i);
  };

  for (int64_t jc = 0; jc < N; jc += kNCb) {
    const int64_t nc = std::min(kNCb, N - jc);
    const int64_t npanels = (nc + kNRb - 1) / kNRb;
    for (int64_t pc = 0; pc < K; pc += kKCb) {
      const int64_t kc = std::min(kKCb, K - pc), kc2 = (kc + 1) / 2;
      const bool accumulate = pc > 0;
      uint32_t* bblock = pairs(tls_b_pairs, npanels * kc2 * kNRb);
      for_each(npanels, [&](int64_t p) {
        const int64_t j0 = jc + p * kNRb;
        pack_b_pairs(B, pc, kc, j0, int(std::min<int64_t>(kNRb, jc + nc - j0)), bblock + p * kc2 * kNRb);
      });

      const int64_t ic_blocks = (M + kMCb - 1) / kMCb;
      int64_t nsplit = (int64_t(8) * threads + ic_blocks - 1) / ic_blocks;
      nsplit = std::max<int64_t>(1, std::min(nsplit, npanels));
      if (threads == 1) nsplit = 1;
      const int64_t per_split = (npanels + nsplit - 1) / nsplit;
      for_each(ic_blocks * nsplit, [&](int64_t t) {
        const int64_t ib = t / nsplit, s = t % nsplit;
        const int64_t p_begin = s * per_split, p_end = std::min(npanels, p_begin + per_split);
        if (p_begin >= p_end) return;
        const int64_t i0 = ib * kMCb, mc = std::min(kMCb, M - i0);
        const int64_t mpanels = (mc + kMRb - 1) / kMRb;
        uint32_t* ablock = pairs(tls_a_pairs, mpanels * kc2 * kMRb);
        for (int64_t q = 0; q < mpanels; ++q)
          pack_a_pairs(A, i0 + q * kMRb, int(std::min<int64_t>(kMRb, mc - q * kMRb)), pc, kc, ablock + q * kc2 * kMRb);
        for (int64_t p = p_begin; p < p_end; ++p) {
          const int64_t j0 = jc + p * kNRb;
          const int nr = int(std::min<int64_t>(kNRb, jc + nc - j0));
          const uint32_t* bp = bblock + p * kc2 * kNRb;
          for (int64_t q = 0; q < mpanels; ++q) {
            const int64_t r0 = i0 + q * kMRb;
            const int mr = int(std::min<int64_t>(kMRb, M - r0));
            run_tile(kc2, ablock + q * kc2 * kMRb, bp, C + r0 * ldc + j0, ldc, mr, nr, accumulate);
          }
        }
      });
    }
  }
#else
  gemm(pool, M, N, K, A, B, C, ldc);
#endif
}

}  // namespace ovis::cpu
