// AVX2 input and output transforms of Winograd F(2x2, 3x3) (conv_winograd.h), 8 tiles per vector:
// tile j's input columns are 2j..2j+3 of the slab row, split into even and odd lanes.
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   A^T = [1 1 1 0; 0 1 -1 -1]
#include "cpu/gemm/conv_winograd.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#include <algorithm>

#include "cpu/gemm/gemm.h"

#define OVIS_AVX2_INLINE __attribute__((target("avx2,fma"), always_inline)) inline

namespace ovis::cpu {

// A panel is kNR tiles: kNR / 8 vectors of 8.
static_assert(kNR % 8 == 0 && kNR <= 32, "the Winograd transforms work on 8 tiles per vector, at most 32");

namespace {

// Even and odd elements of s[0..16): s[0], s[2], ... and s[1], s[3], ...
OVIS_AVX2_INLINE void split_even_odd(const float* s, __m256& even, __m256& odd) {
  const __m256 a = _mm256_loadu_ps(s), b = _mm256_loadu_ps(s + 8);
  const __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));  // a0 a2 b0 b2 | a4 a6 b4 b6
  const __m256 o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
  even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
  odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0)));
}

// One row of B^T d (or d B): the four combinations of four values.
OVIS_AVX2_INLINE void bt4(const __m256 d[4], __m256 out[4]) {
  out[0] = _mm256_sub_ps(d[0], d[2]);
  out[1] = _mm256_add_ps(d[1], d[2]);
  out[2] = _mm256_sub_ps(d[2], d[1]);
  out[3] = _mm256_sub_ps(d[1], d[3]);
}

// A^T applied to four values: (m0 + m1 + m2, m1 - m2 - m3).
OVIS_AVX2_INLINE void at4(__m256 m0, __m256 m1, __m256 m2, __m256 m3, __m256& y0, __m256& y1) {
  y0 = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
  y1 = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
}

// [a0 b0 a1 b1 ... a7 b7] as two vectors.
OVIS_AVX2_INLINE void interleave(__m256 a, __m256 b, float* dst, bool stream) {
  const __m256 lo = _mm256_unpacklo_ps(a, b), hi = _mm256_unpackhi_ps(a, b);
  if (stream) {
    _mm256_stream_ps(dst, _mm256_permute2f128_ps(lo, hi, 0x20));
    _mm256_stream_ps(dst + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
    return;
  }
  _mm256_storeu_ps(dst, _mm256_permute2f128_ps(lo, hi, 0x20));
  _mm256_storeu_ps(dst + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
}

}  // namespace

__attribute__((target("avx2,fma"))) void winograd_input_avx2(const float* src, int64_t nc, int64_t cpitch,
                                                             int64_t rpitch, float* v, int64_t vstride,
                                                             int64_t cstride) {
  for (int64_t c = 0; c < nc; ++c)
    for (int h = 0; h < kNR / 8; ++h) {  // tiles 8h..8h+7
      __m256 t[4][4];                    // t[r] = row r of d B
      for (int r = 0; r < 4; ++r) {
        const float* s = src + c * cpitch + r * rpitch + 16 * h;
        __m256 d[4];
        split_even_odd(s, d[0], d[1]);
        split_even_odd(s + 2, d[2], d[3]);
        bt4(d, t[r]);
      }
      for (int b = 0; b < 4; ++b) {  // column b of B^T (d B)
        const __m256 col[4] = {t[0][b], t[1][b], t[2][b], t[3][b]};
        __m256 o[4];
        bt4(col, o);
        for (int a = 0; a < 4; ++a) _mm256_storeu_ps(v + (a * 4 + b) * vstride + c * cstride + 8 * h, o[a]);
      }
    }
}

__attribute__((target("avx2,fma"))) void winograd_output_avx2(const float* m, int64_t mstride, int64_t cstride,
                                                              int64_t Cout, const float* bias, float* out,
                                                              int64_t plane, int64_t ld, int rows, int cols) {
  alignas(32) float tmp[2][2 * kNR];
  const bool full = rows == 2 && cols == 2 * kNR;
  // Outputs of 16 MiB and more leave the caches before the next op reads them: stream them past the
  // caches (no read for ownership). Smaller ones stay cached for the next op.
  const bool stream = full && Cout * plane >= (int64_t(1) << 22) && reinterpret_cast<uintptr_t>(out) % 32 == 0 &&
                      plane % 8 == 0 && ld % 8 == 0;  // else store to tmp and copy what lies inside the image
  for (int64_t co = 0; co < Cout; ++co) {
    float* o = out + co * plane;
    float* d0 = full ? o : tmp[0];
    float* d1 = full ? o + ld : tmp[1];
    const __m256 bv = _mm256_set1_ps(bias ? bias[co] : 0.f);
    for (int h = 0; h < kNR / 8; ++h) {
      const float* mp = m + co * cstride + 8 * h;
      __m256 s0[4], s1[4];  // m A per row a
      for (int a = 0; a < 4; ++a)
        at4(_mm256_loadu_ps(mp + (a * 4 + 0) * mstride), _mm256_loadu_ps(mp + (a * 4 + 1) * mstride),
            _mm256_loadu_ps(mp + (a * 4 + 2) * mstride), _mm256_loadu_ps(mp + (a * 4 + 3) * mstride), s0[a], s1[a]);
      __m256 y00, y10, y01, y11;  // y<row><col>
      at4(s0[0], s0[1], s0[2], s0[3], y00, y10);
      at4(s1[0], s1[1], s1[2], s1[3], y01, y11);
      interleave(_mm256_add_ps(y00, bv), _mm256_add_ps(y01, bv), d0 + 16 * h, stream);
      interleave(_mm256_add_ps(y10, bv), _mm256_add_ps(y11, bv), d1 + 16 * h, stream);
    }
    if (!full)
      for (int r = 0; r < rows; ++r) std::copy(tmp[r], tmp[r] + cols, o + r * ld);
  }
  if (stream) _mm_sfence();  // streamed stores are weakly ordered: make them visible before the task ends
}

}  // namespace ovis::cpu
#endif
