// channel_bias: y[b, c, :] += bias[c] (conv2d bias, added after the im2row GEMM).
#include "cuda_common.cuh"
#include "launchers.h"

namespace ovis::cuda {

template <class TY>
__global__ void channel_bias_kernel(TY* y, const void* bias, DType tb, int64_t channels, int64_t hw, int64_t n) {
  OVIS_GRID_LOOP(i, n) {
    const int64_t c = (i / hw) % channels;
    y[i] = from_f32<TY>(to_f32(y[i]) + load_any(bias, tb, c));
  }
}

void launch_channel_bias(void* y, DType ty, const void* bias, DType tb, int64_t batch, int64_t channels, int64_t hw,
                         cudaStream_t s) {
  const int64_t n = batch * channels * hw;
  if (n == 0) return;
  require_float_dtype(tb);
  dispatch_float(ty, [&](auto a) {
    using TY = decltype(a);
    channel_bias_kernel<TY><<<grid_for(n), kThreads, 0, s>>>(static_cast<TY*>(y), bias, tb, channels, hw, n);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace ovis::cuda
