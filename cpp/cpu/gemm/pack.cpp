// Panel packing for strided operands: converts F32/F16/BF16 to f32 while copying into the
// micro-kernel layout, reading along whichever axis is contiguous. Block-quantized weights (ggml
// formats) are dequantized block by block while packing: they are never expanded whole.
#include <cstring>

#include "core/error.h"
#include "cpu/gemm/gemm.h"
#include "cpu/gemm/pack_avx512.h"
#include "cpu/quant/dequantize.h"
#include "cpu/simd/cpu_features.h"

namespace ovis::cpu {

namespace {
struct LoadF32 {
  static float at(const void* p, int64_t i) { return static_cast<const float*>(p)[i]; }
};
struct LoadBF16 {
  static float at(const void* p, int64_t i) { return bf16_to_f32(static_cast<const uint16_t*>(p)[i]); }
};
struct LoadF16 {
  static float at(const void* p, int64_t i) { return f16_to_f32(static_cast<const uint16_t*>(p)[i]); }
};

template <class L>
void pack_a(const void* p, int64_t rs, int64_t cs, int64_t i0, int mr, int64_t k0, int64_t kc, float* dst) {
  if (mr < kMR) std::memset(dst, 0, sizeof(float) * size_t(kc) * kMR);
  for (int r = 0; r < mr; ++r) {
    const int64_t base = (i0 + r) * rs + k0 * cs;
    float* d = dst + r;
    for (int64_t k = 0; k < kc; ++k) d[k * kMR] = L::at(p, base + k * cs);
  }
}

template <class L>
void pack_b(const void* p, int64_t rs, int64_t cs, int64_t k0, int64_t kc, int64_t j0, int nr, float* dst) {
  if (nr < kNR) std::memset(dst, 0, sizeof(float) * size_t(kc) * kNR);
  if (cs == 1) {  // rows of B contiguous: copy row pieces
    for (int64_t k = 0; k < kc; ++k) {
      const int64_t base = (k0 + k) * rs + j0;
      float* d = dst + k * kNR;
      for (int j = 0; j < nr; ++j) d[j] = L::at(p, base + j);
    }
  } else {  // columns contiguous (W [N, K] of a linear): read each column along k
    for (int j = 0; j < nr; ++j) {
      const int64_t base = k0 * rs + (j0 + j) * cs;
      float* d = dst + j;
      for (int64_t k = 0; k < kc; ++k) d[k * kNR] = L::at(p, base + k * rs);
    }
  }
}
// B = W^T for a block-quantized W [N, K] (rows of cs values): each row's blocks covering k0..k0+kc
// are dequantized into a small buffer, then copied into the panel.
void pack_b_blocks(const void* p, DType t, int64_t rs, int64_t cs, int64_t k0, int64_t kc, int64_t j0, int nr,
                   float* dst) {
  if (rs != 1) fail("OVIS_INTERNAL", std::string("gemm: a ") + dtype_name(t) + " operand must be a row-major weight");
  if (nr < kNR) std::memset(dst, 0, sizeof(float) * size_t(kc) * kNR);
  const int64_t be = dtype_block_elems(t);
  const size_t row_bytes = dtype_bytes(t, cs), block_bytes = dtype_block_bytes(t);
  const int64_t first = k0 / be, last = (k0 + kc + be - 1) / be;  // blocks [first, last)
  float buf[kKC + 2 * 256];  // the touched blocks span at most kc + 2 * (block - 1) values
  const int64_t skip = k0 - first * be;
  for (int j = 0; j < nr; ++j) {
    const uint8_t* row = static_cast<const uint8_t*>(p) + size_t(j0 + j) * row_bytes;
    dequantize_blocks(t, row + size_t(first) * block_bytes, buf, last - first);
    float* d = dst + j;
    for (int64_t k = 0; k < kc; ++k) d[k * kNR] = buf[skip + k];
  }
}

}  // namespace

void StridedA::pack(int64_t i0, int mr, int64_t k0, int64_t kc, float* dst) const {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  // A whole panel of row-major F32/BF16 activations: transposed in registers.
  if (cs_ == 1 && mr == kMR && (t_ == DType::F32 || t_ == DType::BF16) && use_avx512())
    return pack_rows_panel_avx512(p_, t_, rs_, i0, k0, kc, dst);
#endif
  switch (t_) {
    case DType::F32:
      return pack_a<LoadF32>(p_, rs_, cs_, i0, mr, k0, kc, dst);
    case DType::BF16:
      return pack_a<LoadBF16>(p_, rs_, cs_, i0, mr, k0, kc, dst);
    case DType::F16:
      return pack_a<LoadF16>(p_, rs_, cs_, i0, mr, k0, kc, dst);
    default:
      fail("OVIS_INTERNAL", "gemm: A operand is not a float dtype");
  }
}

void StridedB::pack(int64_t k0, int64_t kc, int64_t j0, int nr, float* dst) const {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  // A whole panel of a row-major F32/BF16 weight (the linear layers): transposed 16 x 16 in registers.
  if (rs_ == 1 && nr == kNR && (t_ == DType::F32 || t_ == DType::BF16) && use_avx512())
    return pack_weight_panel_avx512(p_, t_, cs_, k0, kc, j0, dst);
#endif
  switch (t_) {
    case DType::F32:
      return pack_b<LoadF32>(p_, rs_, cs_, k0, kc, j0, nr, dst);
    case DType::BF16:
      return pack_b<LoadBF16>(p_, rs_, cs_, k0, kc, j0, nr, dst);
    case DType::F16:
      return pack_b<LoadF16>(p_, rs_, cs_, k0, kc, j0, nr, dst);
    default:
      if (dtype_is_quantized(t_)) return pack_b_blocks(p_, t_, rs_, cs_, k0, kc, j0, nr, dst);
      fail("OVIS_INTERNAL", "gemm: B operand is not a float dtype");
  }
}

}  // namespace ovis::cpu
