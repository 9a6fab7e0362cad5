// silu: x * sigmoid(x), elementwise.
#include "cpu/ops/common.h"
#include "cpu/ops/ops.h"
#include "cpu/simd/vmath.h"
#include "cpu/thread_pool.h"

namespace ovis::cpu {

Tensor op_silu(ThreadPool& pool, const Tensor& x) {
  Tensor y = new_tensor(x.shape);
  pool.parallel_range(x.numel(), 1 << 14,
                      [&](int64_t b, int64_t e) { silu_row(x.ptr<float>() + b, y.ptr<float>() + b, e - b); });
  return y;
}

}  // namespace ovis::cpu
