// axpby_: x = alpha * x + beta * y in f32 (CFG and Euler steps on the latents).
#include "cuda_common.cuh"
#include "launchers.h"

namespace ovis::cuda {

template <class TX, class TY>
__global__ void axpby_kernel(TX* x, float alpha, const TY* y, float beta, int64_t n) {
  OVIS_GRID_LOOP(i, n) x[i] = from_f32<TX>(alpha * to_f32(x[i]) + beta * to_f32(y[i]));
}

void launch_axpby(void* x, DType tx, float alpha, const void* y, DType ty, float beta, int64_t n, cudaStream_t s) {
  if (n == 0) return;
  dispatch_float2(tx, ty, [&](auto a, auto b) {
    using TX = decltype(a);
    using TY = decltype(b);
    axpby_kernel<TX, TY>
        <<<grid_for(n), kThreads, 0, s>>>(static_cast<TX*>(x), alpha, static_cast<const TY*>(y), beta, n);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace ovis::cuda
