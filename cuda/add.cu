// add_: x += y elementwise (any float dtypes, f32 math).
#include "cuda_common.cuh"
#include "launchers.h"

namespace ovis::cuda {

template <class TX, class TY>
__global__ void add_kernel(TX* x, const TY* y, int64_t n) {
  OVIS_GRID_LOOP(i, n) x[i] = from_f32<TX>(to_f32(x[i]) + to_f32(y[i]));
}

void launch_add(void* x, DType tx, const void* y, DType ty, int64_t n, cudaStream_t s) {
  if (n == 0) return;
  dispatch_float2(tx, ty, [&](auto a, auto b) {
    using TX = decltype(a);
    using TY = decltype(b);
    add_kernel<TX, TY><<<grid_for(n), kThreads, 0, s>>>(static_cast<TX*>(x), static_cast<const TY*>(y), n);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace ovis::cuda
