// layer_norm_mod: LayerNorm without affine over the last dim, then out = LN(x) * (1 + scale[b]) + shift[b].
// One warp per row; mean and variance in f32 by two passes (the row stays in L1/L2 between passes).
#include "cuda_common.cuh"
#include "launchers.h"

namespace ovis::cuda {

constexpr int kRowsPerBlock = 8;

template <class TX, class TY>
__global__ void layer_norm_mod_kernel(const TX* x, const void* shift, DType tshift, const void* scale, DType tscale,
                                      TY* y, int64_t rows, int64_t seq, int64_t dim, float eps) {
  const int64_t row = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.y;
  if (row >= rows) return;  // whole warp leaves together
  const int lane = threadIdx.x;
  const TX* xr = x + row * dim;
  float sum = 0.f;
  for (int64_t i = lane; i < dim; i += 32) sum += to_f32(xr[i]);
  const float mean = warp_sum(sum) / float(dim);
  float sq = 0.f;
  for (int64_t i = lane; i < dim; i += 32) {
    const float d = to_f32(xr[i]) - mean;
    sq += d * d;
  }
  const float rstd = rsqrtf(warp_sum(sq) / float(dim) + eps);
  const int64_t mod = (row / seq) * dim;  // row of shift/scale for this batch item
  TY* yr = y + row * dim;
  for (int64_t i = lane; i < dim; i += 32) {
    float v = (to_f32(xr[i]) - mean) * rstd;
    if (scale) v *= 1.f + load_any(scale, tscale, mod + i);
    if (shift) v += load_any(shift, tshift, mod + i);
    yr[i] = from_f32<TY>(v);
  }
}

void launch_layer_norm_mod(const void* x, DType tx, const void* shift, DType tshift, const void* scale, DType tscale,
                           void* y, DType ty, int64_t batch, int64_t seq, int64_t dim, float eps, cudaStream_t s) {
  const int64_t rows = batch * seq;
  if (rows == 0 || dim == 0) return;
  if (shift) require_float_dtype(tshift);
  if (scale) require_float_dtype(tscale);
  const dim3 block(32, kRowsPerBlock);
  const int64_t blocks = (rows + kRowsPerBlock - 1) / kRowsPerBlock;
  dispatch_float2(tx, ty, [&](auto a, auto b) {
    using TX = decltype(a);
    using TY = decltype(b);
    layer_norm_mod_kernel<TX, TY><<<unsigned(blocks), block, 0, s>>>(static_cast<const TX*>(x), shift, tshift, scale,
                                                                     tscale, static_cast<TY*>(y), rows, seq, dim, eps);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace ovis::cuda
