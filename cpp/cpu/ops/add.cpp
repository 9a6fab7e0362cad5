// add_: x += y (same shape, f32).
#include "cpu/ops/common.h"
#include "cpu/ops/ops.h"
#include "cpu/thread_pool.h"

namespace ovis::cpu {

void op_add_(ThreadPool& pool, Tensor& x, const Tensor& y) {
  require_f32(x, "add_", "x");
  require_f32(y, "add_", "y");
  if (x.shape != y.shape) bad_arg("add_", "shapes differ: x " + x.shape.str() + ", y " + y.shape.str());
  float* xp = x.ptr<float>();
  const float* yp = y.ptr<float>();
  pool.parallel_range(x.numel(), 1 << 15, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) xp[i] += yp[i];
  });
}

}  // namespace ovis::cpu
