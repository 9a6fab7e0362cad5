// im2row: one image x [Cin, H, W] -> rows p0..p0+pc of the patch matrix [P, Cin*kh*kw] (zero padding),
// so a 2-D convolution becomes one GEMM with the weight [Cout, Cin*kh*kw].
#include "cuda_common.cuh"
#include "launchers.h"

namespace ovis::cuda {

template <class TX, class TC>
__global__ void im2row_kernel(const TX* x, TC* col, int64_t cin, int64_t h, int64_t w, int kh, int kw, int stride,
                              int pad_top, int pad_left, int64_t wo, int64_t p0, int64_t pc) {
  const int64_t kdim = cin * kh * kw;
  OVIS_GRID_LOOP(idx, pc * kdim) {
    const int64_t r = idx / kdim, k = idx - r * kdim;
    const int64_t p = p0 + r, oy = p / wo, ox = p - oy * wo;
    const int64_t kx = k % kw, ky = (k / kw) % kh, ci = k / (kh * kw);
    const int64_t iy = oy * stride - pad_top + ky, ix = ox * stride - pad_left + kx;
    float v = 0.f;
    if (iy >= 0 && iy < h && ix >= 0 && ix < w) v = to_f32(x[(ci * h + iy) * w + ix]);
    col[idx] = from_f32<TC>(v);
  }
}

void launch_im2row(const void* x, DType tx, void* col, DType tcol, int64_t cin, int64_t h, int64_t w, int kh, int kw,
                   int stride, int pad_top, int pad_left, int64_t wo, int64_t p0, int64_t pc, cudaStream_t s) {
  const int64_t n = pc * cin * kh * kw;
  if (n == 0) return;
  dispatch_float2(tx, tcol, [&](auto a, auto b) {
    using TX = decltype(a);
    using TC = decltype(b);
    im2row_kernel<TX, TC><<<grid_for(n), kThreads, 0, s>>>(static_cast<const TX*>(x), static_cast<TC*>(col), cin, h, w,
                                                           kh, kw, stride, pad_top, pad_left, wo, p0, pc);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace ovis::cuda
