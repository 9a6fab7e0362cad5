// swiglu: x [..., 2F] = [up | gate] -> up * silu(gate), [..., F].
#include "cpu/ops/common.h"
#include "cpu/ops/ops.h"
#include "cpu/simd/vmath.h"
#include "cpu/thread_pool.h"

namespace ovis::cpu {

Tensor op_swiglu(ThreadPool& pool, const Tensor& x) {
  const int64_t F = x.shape[-1] / 2;
  Shape os = x.shape;
  os[-1] = F;
  Tensor y = new_tensor(os);
  const int64_t rows = F > 0 ? x.numel() / (2 * F) : 0;
  pool.parallel_range(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(F, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* xr = x.ptr<float>() + r * 2 * F;
      swiglu_row(xr, xr + F, y.ptr<float>() + r * F, F);
    }
  });
  return y;
}

}  // namespace ovis::cpu
