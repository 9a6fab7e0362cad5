// Direct bf16 pair packing for gemm_bf16 (gemm_bf16.h), the common linear-layer operands: f32
// activations with rows contiguous along k (rounded 32 values at a time by the AVX512-BF16 converter)
// and bf16 weights W [N, K] whose k pairs are already 32-bit words (copied, no conversion).
// Other operands return false and gemm_bf16 packs them as f32 and rounds.
#include <cstring>

#include "cpu/gemm/gemm_bf16.h"
#include "cpu/simd/cpu_features.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
// GCC 12's AVX-512 unpack and conversion intrinsics start from an "undefined" register that -Wuninitialized
// and -Wmaybe-uninitialized flag (false positives inside the compiler's own header).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace ovis::cpu {

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
namespace {

// r[i] = 16 words of row i; afterwards r[k] = word k of rows 0..15 (interleave words, then 64-bit halves,
// then 128-bit lanes twice).
__attribute__((target("avx512f"), always_inline)) inline void transpose_words_16x16(__m512i (&r)[16]) {
  __m512i t[16], u[16];
  for (int p = 0; p < 8; ++p) {
    t[2 * p] = _mm512_unpacklo_epi32(r[2 * p], r[2 * p + 1]);
    t[2 * p + 1] = _mm512_unpackhi_epi32(r[2 * p], r[2 * p + 1]);
  }
  for (int q = 0; q < 4; ++q) {  // u[4q + m], lane L: word 4L + m of rows 4q..4q+3
    u[4 * q + 0] = _mm512_unpacklo_epi64(t[4 * q], t[4 * q + 2]);
    u[4 * q + 1] = _mm512_unpackhi_epi64(t[4 * q], t[4 * q + 2]);
    u[4 * q + 2] = _mm512_unpacklo_epi64(t[4 * q + 1], t[4 * q + 3]);
    u[4 * q + 3] = _mm512_unpackhi_epi64(t[4 * q + 1], t[4 * q + 3]);
  }
  for (int m = 0; m < 4; ++m) {
    const __m512i v0 = _mm512_shuffle_i32x4(u[m], u[4 + m], _MM_SHUFFLE(2, 0, 2, 0));
    const __m512i v1 = _mm512_shuffle_i32x4(u[m], u[4 + m], _MM_SHUFFLE(3, 1, 3, 1));
    const __m512i w0 = _mm512_shuffle_i32x4(u[8 + m], u[12 + m], _MM_SHUFFLE(2, 0, 2, 0));
    const __m512i w1 = _mm512_shuffle_i32x4(u[8 + m], u[12 + m], _MM_SHUFFLE(3, 1, 3, 1));
    r[m] = _mm512_shuffle_i32x4(v0, w0, _MM_SHUFFLE(2, 0, 2, 0));
    r[8 + m] = _mm512_shuffle_i32x4(v0, w0, _MM_SHUFFLE(3, 1, 3, 1));
    r[4 + m] = _mm512_shuffle_i32x4(v1, w1, _MM_SHUFFLE(2, 0, 2, 0));
    r[12 + m] = _mm512_shuffle_i32x4(v1, w1, _MM_SHUFFLE(3, 1, 3, 1));
  }
}

// dst[kk * kMRb + i] = bf16 pair (row i [2kk], row i [2kk + 1]) of the f32 rows x + i * rs, i < mr (zero for
// mr <= i < kMRb), kk < (kc + 1) / 2, the odd last value paired with zero. Per 32 values: each row rounded to
// 16 pairs by the AVX512-BF16 converter, then the rows transposed in registers into 12-word stores.
__attribute__((target("avx512f,avx512bw,avx512bf16"))) void round_rows_pairs(const float* x, int64_t rs, int mr,
                                                                             int64_t kc, uint32_t* dst) {
  for (int64_t k = 0; k < kc; k += 32) {
    const int64_t n = kc - k < 32 ? kc - k : 32;
    const __mmask16 lo = __mmask16(n >= 16 ? 0xffff : (1u << n) - 1);
    const __mmask16 hi = __mmask16(n >= 32 ? 0xffff : n > 16 ? (1u << (n - 16)) - 1 : 0);
    __m512i r[16];
    for (int i = 0; i < 16; ++i) {
      if (i >= mr) {
        r[i] = _mm512_setzero_si512();
        continue;
      }
      const float* row = x + i * rs + k;
      const __m512 a = _mm512_maskz_loadu_ps(lo, row), b = _mm512_maskz_loadu_ps(hi, row + 16);
      r[i] = (__m512i)_mm512_cvtne2ps_pbh(b, a);  // a in the low half: k order kept
    }
    transpose_words_16x16(r);
    const int64_t pairs = (n + 1) / 2;
    uint32_t* d = dst + (k / 2) * kMRb;
    for (int64_t m = 0; m < pairs; ++m) _mm512_mask_storeu_epi32(d + m * kMRb, __mmask16((1u << kMRb) - 1), r[m]);
  }
}

// 16 weight rows x 16 k pairs (rows[i] + 2 * kk0 ..) transposed into dst[kk * kNRb + i].
__attribute__((target("avx512f"))) void transpose_pairs_16x16(const uint16_t* const* rows, int64_t kk0, uint32_t* dst) {
  __m512i r[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_si512(rows[i] + 2 * kk0);
  transpose_words_16x16(r);
  for (int m = 0; m < 16; ++m) _mm512_storeu_si512(dst + (kk0 + m) * kNRb, r[m]);
}

}  // namespace
#endif

bool StridedA::pack_bf16_pairs(int64_t i0, int mr, int64_t k0, int64_t kc, uint32_t* dst) const {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (t_ != DType::F32 || cs_ != 1 || !use_avx512_bf16()) return false;
  static_assert(kMRb <= 16, "A pair panels are cut from 16-row transposes");
  round_rows_pairs(static_cast<const float*>(p_) + i0 * rs_ + k0, rs_, mr, kc, dst);
  return true;
#else
  (void)i0, (void)mr, (void)k0, (void)kc, (void)dst;
  return false;
#endif
}

bool StridedB::pack_bf16_pairs(int64_t k0, int64_t kc, int64_t j0, int nr, uint32_t* dst) const {
  if (t_ != DType::BF16 || rs_ != 1) return false;
  const int64_t kc2 = (kc + 1) / 2, whole = kc / 2;
  const uint16_t* p = static_cast<const uint16_t*>(p_);
  int64_t done = 0;  // pairs [0, done) of columns [0, 16 * (nr / 16)) written by 16x16 transposes
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (use_avx512()) {
    done = whole / 16 * 16;
    for (int jb = 0; jb + 16 <= nr; jb += 16) {
      const uint16_t* rows[16];
      for (int i = 0; i < 16; ++i) rows[i] = p + (j0 + jb + i) * cs_ + k0;
      for (int64_t kk = 0; kk < done; kk += 16) transpose_pairs_16x16(rows, kk, dst + jb);
    }
  }
#endif
  for (int j = 0; j < nr; ++j) {
    const uint16_t* col = p + (j0 + j) * cs_ + k0;  // B(k0.., j0 + j) = W row j0 + j
    uint32_t* d = dst + j;
    for (int64_t kk = (j < nr / 16 * 16 ? done : 0); kk < whole; ++kk) {
      uint32_t w;
      std::memcpy(&w, col + 2 * kk, 4);  // little endian: k in the low half, k + 1 in the high half
      d[kk * kNRb] = w;
    }
    if (kc % 2) d[whole * kNRb] = col[kc - 1];
  }
  for (int j = nr; j < kNRb; ++j)
    for (int64_t kk = 0; kk < kc2; ++kk) dst[kk * kNRb + j] = 0;
  return true;
}

}  // namespace ovis::cpu
