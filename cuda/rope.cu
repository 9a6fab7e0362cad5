// rope: rotary embedding in place on x [B, S, H, hd] with cos/sin f32 [S, hd/2].
// interleaved (MMDiT): pair (2i, 2i+1) rotates by angle i; half (Qwen3): pair (i, i + hd/2).
#include "cuda_common.cuh"
#include "launchers.h"

namespace ovis::cuda {

template <class TX>
__global__ void rope_kernel(TX* x, const float* cos_t, const float* sin_t, int64_t seq, int64_t heads, int64_t hd,
                            bool interleaved, int64_t pairs_total) {
  const int64_t half = hd / 2;
  OVIS_GRID_LOOP(p, pairs_total) {
    const int64_t i = p % half;    // pair index within the head
    const int64_t row = p / half;  // (b, s, h) flattened
    const int64_t s = (row / heads) % seq;
    const float c = cos_t[s * half + i], sn = sin_t[s * half + i];
    TX* xh = x + row * hd;
    const int64_t i0 = interleaved ? 2 * i : i, i1 = interleaved ? 2 * i + 1 : i + half;
    const float a = to_f32(xh[i0]), b = to_f32(xh[i1]);
    xh[i0] = from_f32<TX>(a * c - b * sn);
    xh[i1] = from_f32<TX>(b * c + a * sn);
  }
}

void launch_rope(void* x, DType tx, const float* cos, const float* sin, int64_t batch, int64_t seq, int64_t heads,
                 int64_t hd, bool interleaved, cudaStream_t s) {
  const int64_t pairs = batch * seq * heads * (hd / 2);
  if (pairs == 0) return;
  dispatch_float(tx, [&](auto a) {
    using TX = decltype(a);
    rope_kernel<TX>
        <<<grid_for(pairs), kThreads, 0, s>>>(static_cast<TX*>(x), cos, sin, seq, heads, hd, interleaved, pairs);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace ovis::cuda
