// upsample_nearest2x: [planes, H, W] -> [planes, 2H, 2W], each pixel repeated 2x2.
#include "cuda_common.cuh"
#include "launchers.h"

namespace ovis::cuda {

template <class TX, class TY>
__global__ void upsample_nearest2x_kernel(const TX* x, TY* y, int64_t h, int64_t w, int64_t n) {
  const int64_t w2 = 2 * w, h2 = 2 * h;
  OVIS_GRID_LOOP(i, n) {
    const int64_t ox = i % w2, oy = (i / w2) % h2, plane = i / (w2 * h2);
    y[i] = from_f32<TY>(to_f32(x[(plane * h + oy / 2) * w + ox / 2]));
  }
}

void launch_upsample_nearest2x(const void* x, DType tx, void* y, DType ty, int64_t planes, int64_t h, int64_t w,
                               cudaStream_t s) {
  const int64_t n = planes * 4 * h * w;
  if (n == 0) return;
  dispatch_float2(tx, ty, [&](auto a, auto b) {
    using TX = decltype(a);
    using TY = decltype(b);
    upsample_nearest2x_kernel<TX, TY>
        <<<grid_for(n), kThreads, 0, s>>>(static_cast<const TX*>(x), static_cast<TY*>(y), h, w, n);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace ovis::cuda
