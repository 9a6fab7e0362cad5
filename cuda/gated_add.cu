// gated_add_: x[b, s, :] += gate[b, :] * y[b, s, :] (the gated residuals of the MMDiT blocks).
#include "cuda_common.cuh"
#include "launchers.h"

namespace ovis::cuda {

template <class TX, class TY>
__global__ void gated_add_kernel(TX* x, const void* gate, DType tg, const TY* y, int64_t seq, int64_t dim, int64_t n) {
  OVIS_GRID_LOOP(i, n) {
    const int64_t d = i % dim, b = i / (seq * dim);
    const float g = load_any(gate, tg, b * dim + d);
    x[i] = from_f32<TX>(to_f32(x[i]) + g * to_f32(y[i]));
  }
}

void launch_gated_add(void* x, DType tx, const void* gate, DType tg, const void* y, DType ty, int64_t batch,
                      int64_t seq, int64_t dim, cudaStream_t s) {
  const int64_t n = batch * seq * dim;
  if (n == 0) return;
  require_float_dtype(tg);
  dispatch_float2(tx, ty, [&](auto a, auto b) {
    using TX = decltype(a);
    using TY = decltype(b);
    gated_add_kernel<TX, TY>
        <<<grid_for(n), kThreads, 0, s>>>(static_cast<TX*>(x), gate, tg, static_cast<const TY*>(y), seq, dim, n);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace ovis::cuda
