// Device-side helpers shared by the kernels: element conversion, warp reductions, dtype dispatch.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "core/tensor.h"
#include "cuda_check.h"

namespace ovis::cuda {

using bf16 = __nv_bfloat16;
using f16 = __half;

__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(bf16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float to_f32(f16 v) { return __half2float(v); }

template <class T>
__device__ __forceinline__ T from_f32(float v);
template <>
__device__ __forceinline__ float from_f32<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ bf16 from_f32<bf16>(float v) {
  return __float2bfloat16_rn(v);
}
template <>
__device__ __forceinline__ f16 from_f32<f16>(float v) {
  return __float2half_rn(v);
}

// Loads element i of a float tensor whose dtype is only known at run time (small side operands).
__device__ __forceinline__ float load_any(const void* p, DType t, int64_t i) {
  switch (t) {
    case DType::BF16:
      return __bfloat162float(static_cast<const bf16*>(p)[i]);
    case DType::F16:
      return __half2float(static_cast<const f16*>(p)[i]);
    default:
      return static_cast<const float*>(p)[i];
  }
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Grid-stride loops over n elements: i = first index of this thread, step = total threads.
#define OVIS_GRID_LOOP(i, n) \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

constexpr int kThreads = 256;
inline unsigned grid_for(int64_t n, int threads = kThreads) {
  int64_t b = (n + threads - 1) / threads;
  return unsigned(std::min<int64_t>(std::max<int64_t>(b, 1), int64_t(1) << 20));
}

// The one dtype dispatch of the kernels: calls f(T{}) with T the C++ type of a float dtype; other
// dtypes are a bad argument.
template <class F>
void dispatch_float(DType t, F&& f) {
  switch (t) {
    case DType::F32:
      f(float{});
      return;
    case DType::BF16:
      f(bf16{});
      return;
    case DType::F16:
      f(f16{});
      return;
    default:
      fail("OVIS_BAD_ARGUMENT", std::string("expected a float tensor (f32, f16, bf16), got ") + dtype_name(t));
  }
}

// Input and output dtypes of one kernel: f(TIn{}, TOut{}) for the 9 float pairs.
template <class F>
void dispatch_float2(DType tin, DType tout, F&& f) {
  dispatch_float(tin, [&](auto a) { dispatch_float(tout, [&](auto b) { f(a, b); }); });
}

// Checks that a side operand read through load_any (any float dtype at run time) is a float dtype.
inline void require_float_dtype(DType t) {
  dispatch_float(t, [](auto) {});
}

}  // namespace ovis::cuda
