// Implicit-GEMM conv2d for one NCHW image: out[Cout, P] = W[Cout, K] · col[K, P] with K = Cin*kh*kw and
// P = Ho*Wo output pixels. The weights are packed once into micro-panels; the work is split over
// segments of output rows, each packing its own im2col panels (kc x 16 pixels) right before use,
// accumulating in a small local tile and adding the bias on the way out. Pixels are the micro-kernel's vector
// dimension, so small Cout (32, 64) at large resolution keeps the FMA units busy.
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace ovis::cpu {

class ThreadPool;

struct ConvGeometry {
  int64_t Cin, H, W;          // input image
  int64_t kh, kw, stride;     // kernel and stride
  int64_t pad_top, pad_left;  // zero padding before the first row / column (bottom/right are implied by Ho, Wo)
  int64_t Ho, Wo;             // output size
  int64_t K() const { return Cin * kh * kw; }
  int64_t P() const { return Ho * Wo; }
};

// Weights w [Cout, K] (F32/F16/BF16, row-major) as f32 micro-panels: panel q holds rows 6q..6q+5 in
// k-major order at dst + q * K * 6 (rows past Cout are zero). dst needs conv_packed_weights_size floats.
int64_t conv_packed_weights_size(int64_t Cout, int64_t K);
void pack_conv_weights(ThreadPool& pool, const void* w, DType t, int64_t Cout, int64_t K, float* dst);

// Slab for output row oy, columns ox0.., channels [c0, c0 + nc): row (c * kh + ky) of ls floats holds
// input row oy * stride - pad_top + ky from column ox0 * stride - pad_left on, zero outside the image.
void fill_conv_slab(const ConvGeometry& g, const float* x, int64_t c0, int64_t nc, int64_t oy, int64_t ox0, int64_t ls,
                    float* slab);
// Column-matrix panel of the slab's pixels j..j+15 (slab-relative), all nc * kh * kw rows, in the
// micro-kernel layout dst[k * 16 + i]. The slab needs ls >= (j + 15) * stride + kw.
void pack_slab_panel(const ConvGeometry& g, const float* slab, int64_t nc, int64_t ls, int64_t j, float* dst);

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// Stride 1 only: the 6x16 micro-kernel (c = (accumulate ? c : 0) + a · col) reading the panel of slab
// pixels b..b+15 in place; rows = channels * kh slab rows of pitch ls, kw taps each.
void conv_slab_kernel_avx2(int64_t rows, int64_t kw, int64_t ls, const float* a, const float* b, float* c, int64_t ldc,
                           bool accumulate);
// The same over two neighbouring panels (pixels b..b+31, c..c+31) with AVX-512F: the same bits.
void conv_slab_kernel_avx512_x2(int64_t rows, int64_t kw, int64_t ls, const float* a, const float* b, float* c,
                                int64_t ldc, bool accumulate);
#endif

// out [Cout, P] = conv(x [Cin, H, W]) + bias (bias may be null). The result does not depend on the
// number of threads.
void conv_gemm(ThreadPool& pool, const ConvGeometry& g, const float* x, const float* wpacked, int64_t Cout,
               const float* bias, float* out);

}  // namespace ovis::cpu
