// rms_norm: x / sqrt(mean(x^2) + eps) * w over the last dim (per head for q/k norms). One warp per row.
#include "cuda_common.cuh"
#include "launchers.h"

namespace ovis::cuda {

constexpr int kRowsPerBlock = 8;

template <class TX, class TY>
__global__ void rms_norm_kernel(const TX* x, const void* w, DType tw, TY* y, int64_t rows, int64_t dim, float eps) {
  const int64_t row = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.y;
  if (row >= rows) return;
  const int lane = threadIdx.x;
  const TX* xr = x + row * dim;
  float sq = 0.f;
  for (int64_t i = lane; i < dim; i += 32) {
    const float v = to_f32(xr[i]);
    sq += v * v;
  }
  const float r = rsqrtf(warp_sum(sq) / float(dim) + eps);
  TY* yr = y + row * dim;
  for (int64_t i = lane; i < dim; i += 32) yr[i] = from_f32<TY>(to_f32(xr[i]) * r * load_any(w, tw, i));
}

void launch_rms_norm(const void* x, DType tx, const void* w, DType tw, void* y, DType ty, int64_t rows, int64_t dim,
                     float eps, cudaStream_t s) {
  if (rows == 0 || dim == 0) return;
  require_float_dtype(tw);
  const dim3 block(32, kRowsPerBlock);
  const int64_t blocks = (rows + kRowsPerBlock - 1) / kRowsPerBlock;
  if (blocks > 0x7fffffff) fail("OVIS_BAD_ARGUMENT", "rms_norm: too many rows");
  dispatch_float2(tx, ty, [&](auto a, auto b) {
    using TX = decltype(a);
    using TY = decltype(b);
    rms_norm_kernel<TX, TY>
        <<<unsigned(blocks), block, 0, s>>>(static_cast<const TX*>(x), w, tw, static_cast<TY*>(y), rows, dim, eps);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace ovis::cuda
