// bf16 GEMM for AVX512-BF16 CPUs: C[M, N] (f32) = bf16(A) · bf16(B), f32 accumulation. Both operands
// are rounded to bf16 (nearest even) while packing into k-pair panels: a 32-bit word holds the values
// at k and k + 1, the layout `vdpbf16ps` multiplies pairwise. Same operands and blocking as gemm().
#pragma once
#include <cstdint>

#include "cpu/gemm/gemm.h"

namespace ovis::cpu {

constexpr int kMRb = 2 * kMR;   // micro-tile rows: two f32 A panels
constexpr int kNRb = 2 * kNR;   // micro-tile columns: two zmm of 16 f32 accumulators
constexpr int64_t kKCb = 384;   // depth of a packed block (even: whole pairs)
constexpr int64_t kMCb = 144;   // rows of A per packed block
constexpr int64_t kNCb = 4096;  // columns of B per packed block

// True when gemm_bf16 computes in bf16 (AVX512-BF16 present and allowed); otherwise it runs gemm().
bool gemm_bf16_available();

// C = A · B (+ bias[n] on column n, added to each finished f32 sum as gemm() does) (C overwritten, row stride
// ldc) with bf16 products; falls back to the f32 gemm() when gemm_bf16_available() is false. Results do not
// depend on the number of threads.
void gemm_bf16(ThreadPool* pool, int64_t M, int64_t N, int64_t K, const PackSourceA& A, const PackSourceB& B, float* C,
               int64_t ldc, const float* bias = nullptr);

// Round to nearest even, NaN kept quiet: the bits of the bf16 nearest to f.
inline uint16_t f32_to_bf16_bits(float f) {
  uint32_t u;
  __builtin_memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// c[kMRb x kNRb] (row stride ldc) = (accumulate ? c : 0) + a[kc2][kMRb] · b[kc2][kNRb] over k pairs, then
// + bias[j] on column j where bias is not null.
void micro_kernel_bf16_avx512(int64_t kc2, const uint32_t* a, const uint32_t* b, float* c, int64_t ldc, bool accumulate,
                              const float* bias = nullptr);
#endif

}  // namespace ovis::cpu
