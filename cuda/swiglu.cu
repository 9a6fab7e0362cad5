// swiglu: x [rows, 2F] = [up | gate] -> up * silu(gate), [rows, F], read in place from the fused rows.
// bf16 -> bf16 with F a multiple of 8 and 16-byte aligned pointers moves 8 values per 16-byte access.
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

__device__ __forceinline__ float silu_times(float up, float g) { return up * (g / (1.f + expf(-g))); }

__global__ void swiglu_bf16x8_kernel(const uint4* x, uint4* y, int64_t rows, int64_t f8) {
  OVIS_GRID_LOOP(i, rows * f8) {
    const int64_t r = i / f8, c = i - r * f8;
    const uint4 up = x[r * 2 * f8 + c], gate = x[r * 2 * f8 + f8 + c];
    const auto* u = reinterpret_cast<const __nv_bfloat162*>(&up);
    const auto* g = reinterpret_cast<const __nv_bfloat162*>(&gate);
    uint4 out;
    auto* o = reinterpret_cast<__nv_bfloat162*>(&out);
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const float2 uf = __bfloat1622float2(u[k]), gf = __bfloat1622float2(g[k]);
      o[k] = __floats2bfloat162_rn(silu_times(uf.x, gf.x), silu_times(uf.y, gf.y));
    }
    y[i] = out;
  }
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

void launch_swiglu(const void* x, DType tx, void* y, DType ty, int64_t rows, int64_t f, cudaStream_t s) {
  if (rows * f == 0) return;
  if (tx == DType::BF16 && ty == DType::BF16 && f % 8 == 0 && aligned16(x) && aligned16(y)) {
    const int64_t f8 = f / 8;
    swiglu_bf16x8_kernel<<<grid_for(rows * f8), kThreads, 0, s>>>(static_cast<const uint4*>(x), static_cast<uint4*>(y),
                                                                  rows, f8);
    CUDA_CHECK_LAUNCH();
    return;
  }
  dispatch_float2(tx, ty, [&](auto a, auto b) {
    using TX = decltype(a);
    using TY = decltype(b);
    swiglu_kernel<TX, TY>
        <<<grid_for(rows * f), kThreads, 0, s>>>(static_cast<const TX*>(x), static_cast<TY*>(y), rows, f);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace ovis::cuda
