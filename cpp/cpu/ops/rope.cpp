// Rotary position embedding in place on x [B, S, H, hd]: interleaved pairs (MMDiT) or half split (Qwen3).
#include "cpu/ops/common.h"
#include "cpu/ops/ops.h"
#include "cpu/thread_pool.h"

namespace ovis::cpu {

namespace {
// pair(i) gives the offsets of the two elements rotated by angle index i.
template <bool kInterleaved>
void rope(ThreadPool& pool, Tensor& x, const Tensor& cos, const Tensor& sin) {
  const int64_t B = x.shape[0], S = x.shape[1], H = x.shape[2], hd = x.shape[3], half = hd / 2;
  float* xp = x.ptr<float>();
  pool.parallel_range(B * S, std::max<int64_t>(1, 4096 / std::max<int64_t>(H * hd, 1)), [&](int64_t b, int64_t e) {
    for (int64_t bs = b; bs < e; ++bs) {
      const int64_t s = bs % S;
      const float* c = cos.ptr<float>() + s * half;
      const float* sn = sin.ptr<float>() + s * half;
      for (int64_t h = 0; h < H; ++h) {
        float* v = xp + (bs * H + h) * hd;
        for (int64_t i = 0; i < half; ++i) {
          float* p0 = kInterleaved ? v + 2 * i : v + i;
          float* p1 = kInterleaved ? v + 2 * i + 1 : v + i + half;
          const float a = *p0, bb = *p1;
          *p0 = a * c[i] - bb * sn[i];
          *p1 = bb * c[i] + a * sn[i];
        }
      }
    }
  });
}
}  // namespace

void op_rope_(ThreadPool& pool, Tensor& x, const Tensor& cos, const Tensor& sin, bool interleaved) {
  if (interleaved)
    rope<true>(pool, x, cos, sin);
  else
    rope<false>(pool, x, cos, sin);
}

}  // namespace ovis::cpu
