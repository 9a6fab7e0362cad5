// conv2d (NCHW) as a GEMM per image: out[Cout, P] = W[Cout, Cin*kh*kw] · col[Cin*kh*kw, P].
// The im2col matrix is never materialised: the GEMM's B packer reads the needed input pixels
// (zero outside the asymmetric padding) straight into its panels. 1x1/stride 1 reads x directly.
#include <cstring>

#include "cpu/gemm/gemm.h"
#include "cpu/ops/common.h"
#include "cpu/ops/ops.h"
#include "cpu/thread_pool.h"

namespace ovis::cpu {

namespace {
class Im2colB final : public PackSourceB {
 public:
  Im2colB(const float* x, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t stride, int64_t pt, int64_t pl,
          int64_t Wo)
      : x_(x), H_(H), W_(W), kh_(kh), kw_(kw), stride_(stride), pt_(pt), pl_(pl), Wo_(Wo) {}

  void pack(int64_t k0, int64_t kc, int64_t j0, int nr, float* dst) const override {
    int64_t iy0[kNR], ix0[kNR];
    for (int j = 0; j < nr; ++j) {
      const int64_t p = j0 + j;
      iy0[j] = (p / Wo_) * stride_ - pt_;
      ix0[j] = (p % Wo_) * stride_ - pl_;
    }
    const bool one_row = nr == kNR && iy0[0] == iy0[kNR - 1];
    const int64_t khw = kh_ * kw_;
    for (int64_t k = 0; k < kc; ++k) {
      const int64_t kk = k0 + k, ci = kk / khw, ky = (kk % khw) / kw_, kx = kk % kw_;
      const float* plane = x_ + ci * H_ * W_;
      float* d = dst + k * kNR;
      // Fast path: a full panel on one output row, stride 1, fully inside the input: one contiguous copy.
      if (one_row && stride_ == 1 && iy0[0] + ky >= 0 && iy0[0] + ky < H_ && ix0[0] + kx >= 0 &&
          ix0[kNR - 1] + kx < W_) {
        const float* src = plane + (iy0[0] + ky) * W_ + ix0[0] + kx;
        for (int j = 0; j < kNR; ++j) d[j] = src[j];
        continue;
      }
      for (int j = 0; j < nr; ++j) {
        const int64_t iy = iy0[j] + ky, ix = ix0[j] + kx;
        d[j] = (iy >= 0 && iy < H_ && ix >= 0 && ix < W_) ? plane[iy * W_ + ix] : 0.f;
      }
      for (int j = nr; j < kNR; ++j) d[j] = 0.f;
    }
  }

 private:
  const float* x_;
  int64_t H_, W_, kh_, kw_, stride_, pt_, pl_, Wo_;
};
}  // namespace

Tensor op_conv2d(ThreadPool& pool, const Tensor& x, const Tensor& w, const Tensor* bias, int stride, int pad_top,
                 int pad_left, int pad_bottom, int pad_right) {
  const char* op = "conv2d";
  require_f32(x, op, "x");
  require_float(w, op, "w");
  if (x.shape.rank != 4 || w.shape.rank != 4)
    bad_arg(op, "x must be [B, Cin, H, W] and w [Cout, Cin, kh, kw], got x " + x.shape.str() + ", w " + w.shape.str());
  const int64_t B = x.shape[0], Cin = x.shape[1], H = x.shape[2], W = x.shape[3];
  const int64_t Cout = w.shape[0], kh = w.shape[2], kw = w.shape[3];
  if (w.shape[1] != Cin) bad_arg(op, "x " + x.shape.str() + " has Cin " + std::to_string(Cin) + " but w is " + w.shape.str());
  if (stride < 1 || pad_top < 0 || pad_left < 0 || pad_bottom < 0 || pad_right < 0)
    bad_arg(op, "stride must be >= 1 and paddings >= 0");
  const int64_t Hp = H + pad_top + pad_bottom, Wp = W + pad_left + pad_right;
  if (kh < 1 || kw < 1 || Hp < kh || Wp < kw)
    bad_arg(op, "kernel " + w.shape.str() + " does not fit padded input " + x.shape.str());
  const int64_t Ho = (Hp - kh) / stride + 1, Wo = (Wp - kw) / stride + 1, P = Ho * Wo, CK = Cin * kh * kw;
  std::vector<float> btmp;
  const float* bp = nullptr;
  if (bias) {
    require_float(*bias, op, "bias");
    if (bias->shape != Shape{Cout}) bad_arg(op, "bias must be [" + std::to_string(Cout) + "], got " + bias->shape.str());
    bp = as_f32(*bias, btmp);
  }
  Tensor out = new_tensor(Shape{B, Cout, Ho, Wo});
  const bool direct = kh == 1 && kw == 1 && stride == 1 && pad_top == 0 && pad_left == 0 && pad_bottom == 0 &&
                      pad_right == 0;
  StridedA A(w.data, w.dtype, CK, 1);
  for (int64_t b = 0; b < B; ++b) {
    const float* xb = x.ptr<float>() + b * Cin * H * W;
    float* ob = out.ptr<float>() + b * Cout * P;
    if (direct) {
      StridedB Bm(xb, DType::F32, H * W, 1);
      gemm(&pool, Cout, P, CK, A, Bm, ob, P);
    } else {
      Im2colB Bm(xb, H, W, kh, kw, stride, pad_top, pad_left, Wo);
      gemm(&pool, Cout, P, CK, A, Bm, ob, P);
    }
    if (bp)
      pool.parallel_for(Cout, [&](int64_t c) {
        float* r = ob + c * P;
        for (int64_t i = 0; i < P; ++i) r[i] += bp[c];
      });
  }
  return out;
}

}  // namespace ovis::cpu
