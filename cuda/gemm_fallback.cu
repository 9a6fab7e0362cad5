// Plain shared-memory tiled GEMM (column-major, f32 accumulation): the safety net for problems that
// cuBLASLt declines (odd leading dimensions, tiny or unusual shapes). Not a fast path.
#include "cuda_common.cuh"
#include "gemm_lt.h"

namespace ovis::cuda {
namespace {

constexpr int kTile = 16;

template <class TAB, class TD>
__global__ void gemm_fallback_kernel(GemmArgs g) {
  __shared__ float As[kTile][kTile + 1];  // As[kk][ii] = A(i0 + ii, k0 + kk)
  __shared__ float Bs[kTile][kTile + 1];  // Bs[jj][kk] = B(k0 + kk, j0 + jj)
  const TAB* a = static_cast<const TAB*>(g.a);
  const TAB* b = static_cast<const TAB*>(g.b);
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t i0 = int64_t(blockIdx.x) * kTile, j0 = int64_t(blockIdx.y) * kTile;
  const int64_t i = i0 + tx, j = j0 + ty;
  float acc = 0.f;
  for (int64_t k0 = 0; k0 < g.k; k0 += kTile) {
    {
      const int64_t ai = i0 + tx, ak = k0 + ty;
      float v = 0.f;
      if (ai < g.m && ak < g.k) v = to_f32(g.trans_a ? a[ak + ai * g.lda] : a[ai + ak * g.lda]);
      As[ty][tx] = v;
    }
    {
      const int64_t bk = k0 + tx, bj = j0 + ty;
      float v = 0.f;
      if (bk < g.k && bj < g.n) v = to_f32(g.trans_b ? b[bj + bk * g.ldb] : b[bk + bj * g.ldb]);
      Bs[ty][tx] = v;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTile; ++kk) acc += As[kk][tx] * Bs[ty][kk];
    __syncthreads();
  }
  if (i < g.m && j < g.n) {
    if (g.bias) acc += to_f32(static_cast<const TD*>(g.bias)[i]);
    static_cast<TD*>(g.d)[i + j * g.ldd] = from_f32<TD>(acc);
  }
}

}  // namespace

void launch_gemm_fallback(const GemmArgs& g, cudaStream_t s) {
  if (g.m == 0 || g.n == 0) return;
  const int64_t gy = (g.n + kTile - 1) / kTile;
  if (gy > 65535) fail("OVIS_BAD_ARGUMENT", "gemm fallback: n too large (" + std::to_string(g.n) + ")");
  dim3 grid(unsigned((g.m + kTile - 1) / kTile), unsigned(gy));
  dim3 block(kTile, kTile);
  dispatch_float2(g.ab_type, g.d_type, [&](auto ab, auto dd) {
    using TAB = decltype(ab);
    using TD = decltype(dd);
    gemm_fallback_kernel<TAB, TD><<<grid, block, 0, s>>>(g);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace ovis::cuda
