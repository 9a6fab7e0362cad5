// AVX2 input and output transforms of Winograd F(4x2, 3x3) (conv_winograd.h), 8 tiles per vector:
// tile j's input columns are 2j..2j+3 of the slab row, split into even and odd lanes; its 6 input rows are
// 6 row pointers. Horizontally F(2, 3), vertically F(4, 3) (interpolation points 0, 1, -1, 2, -2, inf):
//   B2^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   A2^T = [1 1 1 0; 0 1 -1 -1]
//   B4^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
//   A4^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
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

// B4^T of six values (one column of the tile, top to bottom).
OVIS_AVX2_INLINE void bt6(const __m256 d[6], __m256 o[6]) {
  const __m256 two = _mm256_set1_ps(2.f), four = _mm256_set1_ps(4.f), five = _mm256_set1_ps(5.f);
  o[0] = _mm256_fmadd_ps(four, d[0], _mm256_fnmadd_ps(five, d[2], d[4]));
  o[5] = _mm256_fmadd_ps(four, d[1], _mm256_fnmadd_ps(five, d[3], d[5]));
  const __m256 t1 = _mm256_fnmadd_ps(four, d[2], d[4]), t2 = _mm256_fnmadd_ps(four, d[1], d[3]);
  o[1] = _mm256_add_ps(t1, t2);
  o[2] = _mm256_sub_ps(t1, t2);
  const __m256 t3 = _mm256_sub_ps(d[4], d[2]), t4 = _mm256_mul_ps(two, _mm256_sub_ps(d[3], d[1]));
  o[3] = _mm256_add_ps(t3, t4);
  o[4] = _mm256_sub_ps(t3, t4);
}

// A4^T of six values: the tile's four output rows.
OVIS_AVX2_INLINE void at6(const __m256 m[6], __m256 y[4]) {
  const __m256 p1 = _mm256_add_ps(m[1], m[2]), q1 = _mm256_sub_ps(m[1], m[2]);
  const __m256 p2 = _mm256_add_ps(m[3], m[4]), q2 = _mm256_sub_ps(m[3], m[4]);
  y[0] = _mm256_add_ps(_mm256_add_ps(m[0], p1), p2);
  y[1] = _mm256_fmadd_ps(_mm256_set1_ps(2.f), q2, q1);
  y[2] = _mm256_fmadd_ps(_mm256_set1_ps(4.f), p2, p1);
  y[3] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8.f), q2, q1), m[5]);
}

// A2^T applied to four values: (m0 + m1 + m2, m1 - m2 - m3).
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
      __m256 t[6][4];                    // t[r] = row r of d B2
      for (int r = 0; r < 6; ++r) {
        const float* s = src + c * cpitch + r * rpitch + 16 * h;
        __m256 d[4];
        split_even_odd(s, d[0], d[1]);
        split_even_odd(s + 2, d[2], d[3]);
        bt4(d, t[r]);
      }
      for (int b = 0; b < 4; ++b) {  // column b of B4^T (d B2)
        const __m256 col[6] = {t[0][b], t[1][b], t[2][b], t[3][b], t[4][b], t[5][b]};
        __m256 o[6];
        bt6(col, o);
        for (int a = 0; a < 6; ++a) _mm256_storeu_ps(v + (a * 4 + b) * vstride + c * cstride + 8 * h, o[a]);
      }
    }
}

__attribute__((target("avx2,fma"))) void winograd_weights_avx2(const float* rows, int64_t Cin, float* tp,
                                                               int64_t estride) {
  static_assert(kMR == 6, "one lane per row of the micro-panel, two spare");
  // Lane r reads output channel r's weights; lanes 6 and 7 repeat row 5, and what they produce lands on
  // the next channel's first two floats, which its own store overwrites (or in the padding past the last).
  const int32_t rs = int32_t(Cin * 9);
  const __m256i idx = _mm256_setr_epi32(0, rs, 2 * rs, 3 * rs, 4 * rs, 5 * rs, 5 * rs, 5 * rs);
  const __m256 quarter = _mm256_set1_ps(0.25f), half = _mm256_set1_ps(0.5f);
  const __m256 neg6 = _mm256_set1_ps(-1.f / 6), k6 = _mm256_set1_ps(1.f / 6), k12 = _mm256_set1_ps(1.f / 12),
               k24 = _mm256_set1_ps(1.f / 24);
  for (int64_t ci = 0; ci < Cin; ++ci) {
    const float* g = rows + ci * 9;
    __m256 t[6][3];  // G4 g
    for (int k = 0; k < 3; ++k) {
      const __m256 g0 = _mm256_i32gather_ps(g + k, idx, 4), g1 = _mm256_i32gather_ps(g + 3 + k, idx, 4),
                   g2 = _mm256_i32gather_ps(g + 6 + k, idx, 4);
      const __m256 even = _mm256_fmadd_ps(g0, k24, _mm256_mul_ps(g2, k6));
      t[0][k] = _mm256_mul_ps(g0, quarter);
      t[1][k] = _mm256_mul_ps(_mm256_add_ps(_mm256_add_ps(g0, g1), g2), neg6);
      t[2][k] = _mm256_mul_ps(_mm256_add_ps(_mm256_sub_ps(g0, g1), g2), neg6);
      t[3][k] = _mm256_fmadd_ps(g1, k12, even);
      t[4][k] = _mm256_fnmadd_ps(g1, k12, even);
      t[5][k] = g2;
    }
    for (int a = 0; a < 6; ++a) {  // (G4 g) G2^T
      const __m256 s = _mm256_add_ps(t[a][0], t[a][2]);
      float* d = tp + a * 4 * estride + ci * kMR;
      _mm256_storeu_ps(d, t[a][0]);
      _mm256_storeu_ps(d + estride, _mm256_mul_ps(_mm256_add_ps(s, t[a][1]), half));
      _mm256_storeu_ps(d + 2 * estride, _mm256_mul_ps(_mm256_sub_ps(s, t[a][1]), half));
      _mm256_storeu_ps(d + 3 * estride, t[a][2]);
    }
  }
}

__attribute__((target("avx2,fma"))) void winograd_output_avx2(const float* m, int64_t mstride, int64_t cstride,
                                                              int64_t Cout, const float* bias, float* out,
                                                              int64_t plane, int64_t ld, int rows, int cols) {
  alignas(32) float tmp[4][2 * kNR];
  const bool full = rows == 4 && cols == 2 * kNR;
  // Outputs of 16 MiB and more leave the caches before the next op reads them: stream them past the
  // caches (no read for ownership). Smaller ones stay cached for the next op.
  const bool stream = full && Cout * plane >= (int64_t(1) << 22) && reinterpret_cast<uintptr_t>(out) % 32 == 0 &&
                      plane % 8 == 0 && ld % 8 == 0;  // else store to tmp and copy what lies inside the image
  for (int64_t co = 0; co < Cout; ++co) {
    float* o = out + co * plane;
    const __m256 bv = _mm256_set1_ps(bias ? bias[co] : 0.f);
    for (int h = 0; h < kNR / 8; ++h) {
      const float* mp = m + co * cstride + 8 * h;
      __m256 s0[6], s1[6];  // m A2 per row a: columns 0 and 1
      for (int a = 0; a < 6; ++a)
        at4(_mm256_loadu_ps(mp + (a * 4 + 0) * mstride), _mm256_loadu_ps(mp + (a * 4 + 1) * mstride),
            _mm256_loadu_ps(mp + (a * 4 + 2) * mstride), _mm256_loadu_ps(mp + (a * 4 + 3) * mstride), s0[a], s1[a]);
      __m256 y0[4], y1[4];  // output rows of columns 0 and 1
      at6(s0, y0);
      at6(s1, y1);
      for (int r = 0; r < 4; ++r)
        interleave(_mm256_add_ps(y0[r], bv), _mm256_add_ps(y1[r], bv), (full ? o + r * ld : tmp[r]) + 16 * h, stream);
    }
    if (!full)
      for (int r = 0; r < rows; ++r) std::copy(tmp[r], tmp[r] + cols, o + r * ld);
  }
  if (stream) _mm_sfence();  // streamed stores are weakly ordered: make them visible before the task ends
}

}  // namespace ovis::cpu
#endif
