// embedding: y[i, :] = table[ids[i], :] (ids range-checked on the host by the backend).
#include "cuda_common.cuh"
#include "launchers.h"

namespace ovis::cuda {

template <class TT, class TY>
__global__ void embedding_kernel(const TT* table, const int32_t* ids, TY* y, int64_t hidden, int64_t n) {
  OVIS_GRID_LOOP(i, n) {
    const int64_t r = i / hidden, c = i - r * hidden;
    y[i] = from_f32<TY>(to_f32(table[int64_t(ids[r]) * hidden + c]));
  }
}

void launch_embedding(const void* table, DType tt, const int32_t* ids, void* y, DType ty, int64_t count, int64_t hidden,
                      cudaStream_t s) {
  const int64_t n = count * hidden;
  if (n == 0) return;
  dispatch_float2(tt, ty, [&](auto a, auto b) {
    using TT = decltype(a);
    using TY = decltype(b);
    embedding_kernel<TT, TY>
        <<<grid_for(n), kThreads, 0, s>>>(static_cast<const TT*>(table), ids, static_cast<TY*>(y), hidden, n);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace ovis::cuda
