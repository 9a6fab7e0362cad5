// fill_random: uniform values in [-scale, scale) from a hash of (seed, index); for benchmarks and tests
// that need random weights on the device without host transfers.
#include "cuda_common.cuh"
#include "launchers.h"

namespace ovis::cuda {

__device__ __forceinline__ uint64_t splitmix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

template <class T>
__global__ void fill_random_kernel(T* x, int64_t n, float scale, uint64_t seed) {
  OVIS_GRID_LOOP(i, n) {
    const uint64_t r = splitmix64(seed * 0x632BE59BD9B4E019ull + uint64_t(i));
    const float u = float(r >> 40) * (1.f / 16777216.f);  // [0, 1)
    x[i] = from_f32<T>((2.f * u - 1.f) * scale);
  }
}

void launch_fill_random(void* x, DType t, int64_t n, float scale, uint64_t seed, cudaStream_t s) {
  if (n == 0) return;
  dispatch_float(t, [&](auto a) {
    using T = decltype(a);
    fill_random_kernel<T><<<grid_for(n), kThreads, 0, s>>>(static_cast<T*>(x), n, scale, seed);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace ovis::cuda
