// axpby_: x = x * alpha + y * beta (CFG combination and Euler steps on latents).
#include "cpu/ops/common.h"
#include "cpu/ops/ops.h"
#include "cpu/simd/vmath.h"
#include "cpu/thread_pool.h"

namespace ovis::cpu {

void op_axpby_(ThreadPool& pool, Tensor& x, float alpha, const Tensor& y, float beta) {
  pool.parallel_range(x.numel(), 1 << 15, [&](int64_t b, int64_t e) {
    axpby_row(x.ptr<float>() + b, alpha, y.ptr<float>() + b, beta, e - b);
  });
}

}  // namespace ovis::cpu
