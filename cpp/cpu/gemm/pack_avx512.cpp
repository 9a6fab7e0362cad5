// AVX-512 packing of row-major operands: 16 rows of a linear layer's weight W [N, K] into a B panel
// [kc][16], and 6 rows of the activations into an A panel [kc][6]; rows are read 16 values at a time and
// transposed in registers (the scalar paths write one float at a time with a stride). Pure data movement
// and bf16 -> f32 widening: the same bits as pack_a / pack_b.
#include "cpu/gemm/pack_avx512.h"

#include "cpu/gemm/gemm.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
// GCC 12's AVX-512 widening and shift intrinsics start from an "undefined" register that
// -Wmaybe-uninitialized flags (a false positive inside the compiler's own header).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace ovis::cpu {

namespace {

__attribute__((target("avx512f"))) inline __m512 load16(const void* p, DType t, int64_t i) {
  if (t == DType::F32) return _mm512_loadu_ps(static_cast<const float*>(p) + i);
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(p) + i));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

// r[j] = 16 values of row j; afterwards r[k] = value k of rows 0..15.
__attribute__((target("avx512f"))) inline void transpose16(__m512 r[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; ++i) {  // pairs of rows interleaved within each 128-bit lane
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int g = 0; g < 4; ++g) {  // lane L of u[4g + e]: rows 4g..4g+3 at value 4L + e
    u[4 * g + 0] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
    u[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0xEE);
    u[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
    u[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xEE);
  }
  for (int e = 0; e < 4; ++e) {  // gather lane L of the four row groups: value 4L + e of all 16 rows
    const __m512 v0 = _mm512_shuffle_f32x4(u[e], u[4 + e], 0x88), v1 = _mm512_shuffle_f32x4(u[e], u[4 + e], 0xDD);
    const __m512 v2 = _mm512_shuffle_f32x4(u[8 + e], u[12 + e], 0x88);
    const __m512 v3 = _mm512_shuffle_f32x4(u[8 + e], u[12 + e], 0xDD);
    r[e] = _mm512_shuffle_f32x4(v0, v2, 0x88);
    r[8 + e] = _mm512_shuffle_f32x4(v0, v2, 0xDD);
    r[4 + e] = _mm512_shuffle_f32x4(v1, v3, 0x88);
    r[12 + e] = _mm512_shuffle_f32x4(v1, v3, 0xDD);
  }
}

// Value i of a row-major f32 or bf16 operand, for the last kc % 16 values of a row.
inline float value_at(const void* p, DType t, int64_t i) {
  return t == DType::F32 ? static_cast<const float*>(p)[i] : bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
}

}  // namespace

__attribute__((target("avx512f"))) void pack_weight_panel_avx512(const void* w, DType t, int64_t row_len, int64_t k0,
                                                                 int64_t kc, int64_t j0, float* dst) {
  int64_t k = 0;
  for (; k + 16 <= kc; k += 16) {
    __m512 r[16];
    for (int j = 0; j < 16; ++j) r[j] = load16(w, t, (j0 + j) * row_len + k0 + k);
    transpose16(r);
    for (int e = 0; e < 16; ++e) _mm512_storeu_ps(dst + (k + e) * 16, r[e]);
  }
  for (; k < kc; ++k)  // the last kc % 16 values, one at a time
    for (int j = 0; j < 16; ++j) dst[k * 16 + j] = value_at(w, t, (j0 + j) * row_len + k0 + k);
}

__attribute__((target("avx512f"))) void pack_rows_panel_avx512(const void* a, DType t, int64_t row_len, int64_t i0,
                                                               int64_t k0, int64_t kc, float* dst) {
  constexpr int kRows = kMR;
  int64_t k = 0;
  for (; k + 16 <= kc; k += 16) {
    __m512 r[16];
    for (int i = 0; i < kRows; ++i) r[i] = load16(a, t, (i0 + i) * row_len + k0 + k);
    for (int i = kRows; i < 16; ++i) r[i] = _mm512_setzero_ps();
    transpose16(r);  // r[e]: value k + e of the 6 rows in lanes 0-5
    for (int e = 0; e < 16; ++e) _mm512_mask_storeu_ps(dst + (k + e) * kRows, __mmask16((1u << kRows) - 1), r[e]);
  }
  for (; k < kc; ++k)
    for (int i = 0; i < kRows; ++i) dst[k * kRows + i] = value_at(a, t, (i0 + i) * row_len + k0 + k);
}

}  // namespace ovis::cpu
#endif
