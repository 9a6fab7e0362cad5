// upsample_nearest2x: [B, C, H, W] -> [B, C, 2H, 2W], each pixel repeated 2x2.
#include "cpu/ops/common.h"
#include "cpu/ops/ops.h"
#include "cpu/thread_pool.h"

namespace ovis::cpu {

Tensor op_upsample_nearest2x(ThreadPool& pool, const Tensor& x) {
  const int64_t H = x.shape[2], W = x.shape[3];
  Tensor y = new_tensor(Shape{x.shape[0], x.shape[1], 2 * H, 2 * W});
  pool.parallel_range(x.shape[0] * x.shape[1] * H, 16, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {  // r = plane * H + row
      const float* src = x.ptr<float>() + r * W;
      float* d0 = y.ptr<float>() + r * 4 * W;  // output rows 2*row and 2*row+1 of the same plane
      float* d1 = d0 + 2 * W;
      for (int64_t i = 0; i < W; ++i) d0[2 * i] = d0[2 * i + 1] = src[i];
      std::copy(d0, d0 + 2 * W, d1);
    }
  });
  return y;
}

}  // namespace ovis::cpu
