// bf16 GEMM driver (see gemm_bf16.h): the block loops of gemm() (block_loop.h) with 12x32 tiles of k pairs.
// Operands write bf16 pair panels directly where they can (pack_bf16.cpp: f32 activations, bf16
// weights); others (f16, quantized blocks, strided) pack f32 panels that are then rounded. The blocking
// depends only on the shapes, so results are bitwise the same for any number of threads.
#include "cpu/gemm/gemm_bf16.h"

#include <algorithm>
#include <cstring>

#include "cpu/gemm/block_loop.h"
#include "cpu/gemm/scratch.h"
#include "cpu/gemm/tile_store.h"
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

}  // namespace

bool gemm_bf16_available() { return use_avx512_bf16(); }

void gemm_bf16(ThreadPool* pool, int64_t M, int64_t N, int64_t K, const PackSourceA& A, const PackSourceB& B, float* C,
               int64_t ldc, const float* bias) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (!gemm_bf16_available() || M <= 0 || N <= 0 || K <= 0) return gemm(pool, M, N, K, A, B, C, ldc, bias);
  uint32_t* bblock = nullptr;
  for_each_gemm_block(
      pool, M, N, K, GemmBlocking{kNCb, kKCb, kMCb, kNRb, false},
      [&](const DepthBlock& blk) { bblock = pairs(tls_b_pairs, blk.npanels * ((blk.kc + 1) / 2) * kNRb); },
      [&](const DepthBlock& blk, int64_t p) {
        const int64_t j0 = blk.jc + p * kNRb, kc2 = (blk.kc + 1) / 2;
        pack_b_pairs(B, blk.pc, blk.kc, j0, int(std::min<int64_t>(kNRb, blk.jc + blk.nc - j0)),
                     bblock + p * kc2 * kNRb);
      },
      [&](const DepthBlock& blk, const BlockTask& t) {
        const int64_t kc2 = (blk.kc + 1) / 2;
        const bool accumulate = !blk.first;
        const float* last_bias = blk.last ? bias : nullptr;  // added once the sums are complete
        const int64_t mpanels = (t.mc + kMRb - 1) / kMRb;
        uint32_t* ablock = pairs(tls_a_pairs, mpanels * kc2 * kMRb);
        for (int64_t q = 0; q < mpanels; ++q)
          pack_a_pairs(A, t.i0 + q * kMRb, int(std::min<int64_t>(kMRb, t.mc - q * kMRb)), blk.pc, blk.kc,
                       ablock + q * kc2 * kMRb);
        for (int64_t p = t.p_begin; p < t.p_end; ++p) {
          const int64_t j0 = blk.jc + p * kNRb;
          const int nr = int(std::min<int64_t>(kNRb, blk.jc + blk.nc - j0));
          const uint32_t* bp = bblock + p * kc2 * kNRb;
          for (int64_t q = 0; q < mpanels; ++q) {
            const int64_t r0 = t.i0 + q * kMRb;
            const int mr = int(std::min<int64_t>(kMRb, M - r0));
            const uint32_t* ap = ablock + q * kc2 * kMRb;
            float* c = C + r0 * ldc + j0;
            if (mr == kMRb && nr == kNRb) {  // a whole tile: the bias goes in with the kernel's store
              micro_kernel_bf16_avx512(kc2, ap, bp, c, ldc, accumulate, last_bias ? last_bias + j0 : nullptr);
              continue;
            }
            run_clipped_tile<kMRb, kNRb>(c, ldc, mr, nr, accumulate, [&](float* cc, int64_t ld, bool acc) {
              micro_kernel_bf16_avx512(kc2, ap, bp, cc, ld, acc);
            });
            if (last_bias) add_bias_tile(c, ldc, mr, nr, last_bias + j0);
          }
        }
      });
#else
  gemm(pool, M, N, K, A, B, C, ldc, bias);
#endif
}

}  // namespace ovis::cpu
