// silu: y = x * sigmoid(x). bf16 -> bf16 with n a multiple of 8 and 16-byte aligned pointers moves 8
// values per 16-byte access.
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

__global__ void silu_bf16x8_kernel(const uint4* x, uint4* y, int64_t n8) {
  OVIS_GRID_LOOP(i, n8) {
    const uint4 in = x[i];
    const auto* v = reinterpret_cast<const __nv_bfloat162*>(&in);
    uint4 out;
    auto* o = reinterpret_cast<__nv_bfloat162*>(&out);
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const float2 f = __bfloat1622float2(v[k]);
      o[k] = __floats2bfloat162_rn(f.x / (1.f + expf(-f.x)), f.y / (1.f + expf(-f.y)));
    }
    y[i] = out;
  }
}

void launch_silu(const void* x, DType tx, void* y, DType ty, int64_t n, cudaStream_t s) {
  if (n == 0) return;
  const bool aligned = ((reinterpret_cast<uintptr_t>(x) | reinterpret_cast<uintptr_t>(y)) & 15) == 0;
  if (tx == DType::BF16 && ty == DType::BF16 && n % 8 == 0 && aligned) {
    silu_bf16x8_kernel<<<grid_for(n / 8), kThreads, 0, s>>>(static_cast<const uint4*>(x), static_cast<uint4*>(y),
                                                            n / 8);
    CUDA_CHECK_LAUNCH();
    return;
  }
  dispatch_float2(tx, ty, [&](auto a, auto b) {
    using TX = decltype(a);
    using TY = decltype(b);
    silu_kernel<TX, TY><<<grid_for(n), kThreads, 0, s>>>(static_cast<const TX*>(x), static_cast<TY*>(y), n);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace ovis::cuda
