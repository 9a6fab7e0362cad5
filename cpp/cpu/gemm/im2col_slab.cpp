// The im2col side of the implicit-GEMM conv, in two steps. A slab copies the input rows one output-row
// segment needs (a block of channels x kh rows, zero padding made explicit) into a small contiguous
// buffer; panels are then packed from the slab with no bounds checks. Reading the image a row at a time
// streams well, while packing straight from NCHW reads one line from each of many planes whose
// power-of-two strides map to the same cache sets.
#include <algorithm>
#include <cstring>

#include "cpu/gemm/conv_gemm.h"
#include "cpu/gemm/gemm.h"
#include "cpu/simd/cpu_features.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#endif

namespace ovis::cpu {

void fill_conv_slab(const ConvGeometry& g, const float* x, int64_t c0, int64_t nc, int64_t oy, int64_t ox0, int64_t ls,
                    float* slab) {
  const int64_t ix0 = ox0 * g.stride - g.pad_left;  // input column of slab column 0
  // Slab columns [lo, hi) lie inside the image; the rest is padding.
  const int64_t lo = std::min(ls, std::max<int64_t>(0, -ix0));
  const int64_t hi = std::max(lo, std::min(ls, g.W - ix0));
  for (int64_t c = 0; c < nc; ++c)
    for (int64_t ky = 0; ky < g.kh; ++ky) {
      float* d = slab + (c * g.kh + ky) * ls;
      const int64_t iy = oy * g.stride - g.pad_top + ky;
      if (iy < 0 || iy >= g.H) {
        std::memset(d, 0, sizeof(float) * size_t(ls));
        continue;
      }
      const float* src = x + ((c0 + c) * g.H + iy) * g.W + ix0;
      std::memset(d, 0, sizeof(float) * size_t(lo));
      std::memcpy(d + lo, src + lo, sizeof(float) * size_t(hi - lo));
      std::memset(d + hi, 0, sizeof(float) * size_t(ls - hi));
    }
}

namespace {

// Stride 1: every column-matrix row is 16 consecutive slab floats starting at row + kx.
void pack_rows_unit_stride(const float* base, int64_t rows, int64_t ls, int64_t kw, float* dst) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = base + r * ls;
    for (int64_t kx = 0; kx < kw; ++kx, dst += kNR) std::memcpy(dst, row + kx, sizeof(float) * kNR);
  }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("avx2"))) void pack_rows_unit_stride_avx2(const float* base, int64_t rows, int64_t ls, int64_t kw,
                                                                float* dst) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = base + r * ls;
    for (int64_t kx = 0; kx < kw; ++kx, dst += kNR) {
      _mm256_store_ps(dst, _mm256_loadu_ps(row + kx));  // dst: 64-byte aligned scratch
      _mm256_store_ps(dst + 8, _mm256_loadu_ps(row + kx + 8));
    }
  }
}
#endif

}  // namespace

void pack_slab_panel(const ConvGeometry& g, const float* slab, int64_t nc, int64_t ls, int64_t j, float* dst) {
  const int64_t s = g.stride, kw = g.kw, rows = nc * g.kh;
  const float* base = slab + j * s;
  if (s == 1) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (use_avx2()) return pack_rows_unit_stride_avx2(base, rows, ls, kw, dst);
#endif
    return pack_rows_unit_stride(base, rows, ls, kw, dst);
  }
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = base + r * ls;
    for (int64_t kx = 0; kx < kw; ++kx, dst += kNR)
      for (int i = 0; i < kNR; ++i) dst[i] = row[kx + i * s];
  }
}

}  // namespace ovis::cpu
