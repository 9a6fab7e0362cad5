// conv2d on CUDA: the im2row chunking and the GEMMs that follow it.
#include "conv2d.h"

#include <algorithm>

#include "launchers.h"

namespace ovis::cuda {

int64_t conv_chunk_pixels(int64_t pixels, int64_t kdim, size_t es) {
  const int64_t budget = int64_t(256) << 20;
  const int64_t pc = std::max<int64_t>(64, budget / std::max<int64_t>(1, kdim * int64_t(es)) / 64 * 64);
  return std::min(pc, pixels);
}

namespace {

struct ConvShape {
  int64_t batch, cin, h, w, cout, kh, kw, ho, wo;
  int64_t pixels() const { return ho * wo; }
  int64_t kdim() const { return cin * kh * kw; }
};

// Column-major: out_b (P x Cout, ld P) = patches (P x K) · w(K x Cout); w row-major [Cout, K] is K x Cout.
GemmArgs weight_side(const ConvShape& c, const Tensor& w, DType t_out) {
  GemmArgs g;
  g.n = c.cout;
  g.k = c.kdim();
  g.b = w.data;
  g.ldb = c.kdim();
  g.trans_b = false;
  g.ab_type = w.dtype;
  g.d_type = t_out;
  g.ldd = c.pixels();
  return g;
}

void pointwise(CudaBackend& be, const ConvShape& c, const Tensor& x, GemmArgs g, Tensor& out) {
  const Tensor xa = be.cast(x, g.ab_type);  // x_b row-major [Cin, P] is column-major P x Cin
  const size_t es_op = dtype_size(g.ab_type), es_out = dtype_size(out.dtype);
  for (int64_t bi = 0; bi < c.batch; ++bi) {
    g.trans_a = false;
    g.m = c.pixels();
    g.a = static_cast<const char*>(xa.data) + size_t(bi * c.cin * c.pixels()) * es_op;
    g.lda = c.pixels();
    g.d = static_cast<char*>(out.data) + size_t(bi * c.cout * c.pixels()) * es_out;
    be.gemm().run(g);
  }
}

void patches(CudaBackend& be, const ConvShape& c, const Tensor& x, GemmArgs g, Tensor& out, int stride, int pad_top,
             int pad_left) {
  const size_t es_op = dtype_size(g.ab_type), es_out = dtype_size(out.dtype);
  const int64_t p = c.pixels(), pc = conv_chunk_pixels(p, c.kdim(), es_op);
  auto col = be.allocator().allocate(size_t(pc * c.kdim()) * es_op);
  for (int64_t bi = 0; bi < c.batch; ++bi) {
    const void* xb = static_cast<const char*>(x.data) + size_t(bi * c.cin * c.h * c.w) * dtype_size(x.dtype);
    for (int64_t p0 = 0; p0 < p; p0 += pc) {
      const int64_t cur = std::min(pc, p - p0);
      launch_im2row(xb, x.dtype, col.get(), g.ab_type, c.cin, c.h, c.w, int(c.kh), int(c.kw), stride, pad_top, pad_left,
                    c.wo, p0, cur, be.stream());
      g.trans_a = true;  // patches row-major [cur, K] is column-major K x cur
      g.m = cur;
      g.a = col.get();
      g.lda = c.kdim();
      g.d = static_cast<char*>(out.data) + size_t(bi * c.cout * p + p0) * es_out;
      be.gemm().run(g);
    }
  }
}

}  // namespace

Tensor conv2d_forward(CudaBackend& be, const Tensor& x, const Tensor& w, const Tensor* bias, int stride, int pad_top,
                      int pad_left, int pad_bottom, int pad_right) {
  ConvShape c{x.shape[0], x.shape[1], x.shape[2], x.shape[3], w.shape[0], w.shape[2], w.shape[3], 0, 0};
  c.ho = (c.h + pad_top + pad_bottom - c.kh) / stride + 1;
  c.wo = (c.w + pad_left + pad_right - c.kw) / stride + 1;
  const GemmTypes types = be.gemm_types(w.dtype);
  Tensor out = be.alloc(Shape{c.batch, c.cout, c.ho, c.wo}, types.out);
  if (out.numel() == 0) return out;
  const Tensor wa = be.cast(w, types.operand);
  const GemmArgs g = weight_side(c, wa, types.out);
  const bool is_1x1 =
      c.kh == 1 && c.kw == 1 && stride == 1 && pad_top == 0 && pad_left == 0 && pad_bottom == 0 && pad_right == 0;
  if (is_1x1)
    pointwise(be, c, x, g, out);
  else
    patches(be, c, x, g, out, stride, pad_top, pad_left);
  if (bias) launch_channel_bias(out.data, out.dtype, bias->data, bias->dtype, c.batch, c.cout, c.pixels(), be.stream());
  return out;
}

}  // namespace ovis::cuda
