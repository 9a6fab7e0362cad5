// silu: y = x * sigmoid(x).
#include "cuda_common.cuh"
#include "launchers.h"

namespace ovis::cuda {

template <class TX, class TY>
__global__ void silu_kernel(const TX* x, TY* y, int64_t n) {
  OVIS_GRID_LOOP(i, n) {
    const float v = to_f32(x[i]);
    y[i] = from_f32<TY>(v / (1.f + expf(-v)));
  }
}

void launch_silu(const void* x, DType tx, void* y, DType ty, int64_t n, cudaStream_t s) {
  if (n == 0) return;
  dispatch_float2(tx, ty, [&](auto a, auto b) {
    using TX = decltype(a);
    using TY = decltype(b);
    silu_kernel<TX, TY><<<grid_for(n), kThreads, 0, s>>>(static_cast<const TX*>(x), static_cast<TY*>(y), n);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace ovis::cuda
