// transpose_last2: [batch, M, N] -> [batch, N, M] through 32x32 shared-memory tiles (coalesced both ways).
#include "cuda_common.cuh"
#include "launchers.h"

namespace ovis::cuda {

constexpr int kT = 32;

template <class TX, class TY>
__global__ void transpose_kernel(const TX* x, TY* y, int64_t m, int64_t n) {
  __shared__ float tile[kT][kT + 1];
  const int64_t b = blockIdx.z;
  const int64_t n0 = int64_t(blockIdx.x) * kT, m0 = int64_t(blockIdx.y) * kT;
  const TX* xb = x + b * m * n;
  TY* yb = y + b * m * n;
  for (int r = threadIdx.y; r < kT; r += blockDim.y) {
    const int64_t mi = m0 + r, ni = n0 + threadIdx.x;
    if (mi < m && ni < n) tile[r][threadIdx.x] = to_f32(xb[mi * n + ni]);
  }
  __syncthreads();
  for (int r = threadIdx.y; r < kT; r += blockDim.y) {
    const int64_t ni = n0 + r, mi = m0 + threadIdx.x;
    if (mi < m && ni < n) yb[ni * m + mi] = from_f32<TY>(tile[threadIdx.x][r]);
  }
}

void launch_transpose_last2(const void* x, DType tx, void* y, DType ty, int64_t batch, int64_t m, int64_t n,
                            cudaStream_t s) {
  if (batch * m * n == 0) return;
  const int64_t gm = (m + kT - 1) / kT;
  if (gm > 65535 || batch > 65535) fail("OVIS_BAD_ARGUMENT", "transpose_last2: shape too large");
  const dim3 grid(unsigned((n + kT - 1) / kT), unsigned(gm), unsigned(batch));
  const dim3 block(kT, 8);
  dispatch_float2(tx, ty, [&](auto a, auto bb) {
    using TX = decltype(a);
    using TY = decltype(bb);
    transpose_kernel<TX, TY><<<grid, block, 0, s>>>(static_cast<const TX*>(x), static_cast<TY*>(y), m, n);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace ovis::cuda
