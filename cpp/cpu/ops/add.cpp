// add_: x += y (same shape, f32).
#include "cpu/ops/common.h"
#include "cpu/ops/ops.h"
#include "cpu/thread_pool.h"

namespace ovis::cpu {

void op_add_(ThreadPool& pool, Tensor& x, const Tensor& y) {
  float* xp = x.ptr<float>();
  const float* yp = y.ptr<float>();
  pool.parallel_range(x.numel(), 1 << 15, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) xp[i] += yp[i];
  });
}

}  // namespace ovis::cpu
