// swiglu: x [rows, 2F] = [up | gate] -> up * silu(gate), [rows, F].
#include "cuda_common.cuh"
#include "launchers.h"

namespace ovis::cuda {

template <class TX, class TY>
__global__ void swiglu_kernel(const TX* x, TY* y, int64_t rows, int64_t f) {
  OVIS_GRID_LOOP(i, rows * f) {
    const int64_t r = i / f, c = i - r * f;
    const float up = to_f32(x[r * 2 * f + c]);
    const float g = to_f32(x[r * 2 * f + f + c]);
    y[i] = from_f32<TY>(up * (g / (1.f + expf(-g))));
  }
}

void launch_swiglu(const void* x, DType tx, void* y, DType ty, int64_t rows, int64_t f, cudaStream_t s) {
  if (rows * f == 0) return;
  dispatch_float2(tx, ty, [&](auto a, auto b) {
    using TX = decltype(a);
    using TY = decltype(b);
    swiglu_kernel<TX, TY><<<grid_for(rows * f), kThreads, 0, s>>>(static_cast<const TX*>(x), static_cast<TY*>(y),
                                                                   rows, f);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace ovis::cuda
