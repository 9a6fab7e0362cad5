// axpby_: x = x * alpha + y * beta (CFG combination and Euler steps on latents).
#include "cpu/ops/common.h"
#include "cpu/ops/ops.h"
#include "cpu/simd/vmath.h"
#include "cpu/thread_pool.h"

namespace ovis::cpu {

void op_axpby_(ThreadPool& pool, Tensor& x, float alpha, const Tensor& y, float beta) {
  require_f32(x, "axpby_", "x");
  require_f32(y, "axpby_", "y");
  if (x.shape != y.shape) bad_arg("axpby_", "shapes differ: x " + x.shape.str() + ", y " + y.shape.str());
  pool.parallel_range(x.numel(), 1 << 15, [&](int64_t b, int64_t e) {
    axpby_row(x.ptr<float>() + b, alpha, y.ptr<float>() + b, beta, e - b);
  });
}

}  // namespace ovis::cpu
