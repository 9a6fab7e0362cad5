// conv2d (NCHW): per image Winograd F(4x2, 3x3) for stride-1 3x3 convs (cpu/gemm/conv_winograd.h), else
// an implicit GEMM over output pixels (cpu/gemm/conv_gemm.h). The weights are packed once per call for
// all images; the im2col matrix is never materialised.
#include <vector>

#include "cpu/gemm/conv_gemm.h"
#include "cpu/gemm/conv_winograd.h"
#include "cpu/gemm/scratch.h"
#include "cpu/ops/common.h"
#include "cpu/ops/ops.h"
#include "cpu/thread_pool.h"

namespace ovis::cpu {

Tensor op_conv2d(ThreadPool& pool, const Tensor& x, const Tensor& w, const Tensor* bias, int stride, int pad_top,
                 int pad_left, int pad_bottom, int pad_right) {
  const int64_t B = x.shape[0], Cin = x.shape[1], H = x.shape[2], W = x.shape[3];
  const int64_t Cout = w.shape[0], kh = w.shape[2], kw = w.shape[3];
  const int64_t Hp = H + pad_top + pad_bottom, Wp = W + pad_left + pad_right;
  const int64_t Ho = (Hp - kh) / stride + 1, Wo = (Wp - kw) / stride + 1, P = Ho * Wo, CK = Cin * kh * kw;
  std::vector<float> btmp;
  const float* bp = nullptr;
  if (bias) bp = as_f32(*bias, btmp);
  Tensor out = new_tensor(Shape{B, Cout, Ho, Wo});
  const ConvGeometry g{Cin, H, W, kh, kw, stride, pad_top, pad_left, Ho, Wo};
  // Block-quantized weights stay on the implicit GEMM, whose packing dequantizes them.
  const bool float_weights = w.dtype == DType::F32 || w.dtype == DType::BF16 || w.dtype == DType::F16;
  if (float_weights && winograd_applies(g, Cout)) {
    // Every float of u is written by the packing: no zero fill (16 MiB at 512 channels).
    static thread_local Scratch u;
    float* up = u.get(size_t(winograd_weights_size(Cout, Cin)));
    pack_winograd_weights(pool, w.data, w.dtype, Cout, Cin, up);
    for (int64_t b = 0; b < B; ++b)
      conv_winograd(pool, g, x.ptr<float>() + b * Cin * H * W, up, Cout, bp, out.ptr<float>() + b * Cout * P);
    return out;
  }
  std::vector<float> wpacked(size_t(conv_packed_weights_size(Cout, CK)));
  pack_conv_weights(pool, w.data, w.dtype, Cout, CK, wpacked.data());
  for (int64_t b = 0; b < B; ++b)
    conv_gemm(pool, g, x.ptr<float>() + b * Cin * H * W, wpacked.data(), Cout, bp, out.ptr<float>() + b * Cout * P);
  return out;
}

}  // namespace ovis::cpu
