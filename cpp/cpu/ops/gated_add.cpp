// gated_add_: x[b, s, :] += gate[b, :] * y[b, s, :] (the MMDiT residual with its modulation gate).
#include "cpu/ops/common.h"
#include "cpu/ops/ops.h"
#include "cpu/thread_pool.h"

namespace ovis::cpu {

void op_gated_add_(ThreadPool& pool, Tensor& x, const Tensor& gate, const Tensor& y) {
  const int64_t B = x.shape[0], S = x.shape[1], D = x.shape[2];
  float* xp = x.ptr<float>();
  const float* yp = y.ptr<float>();
  const float* gp = gate.ptr<float>();
  pool.parallel_range(B * S, std::max<int64_t>(1, 16384 / std::max<int64_t>(D, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* g = gp + (r / S) * D;
      float* xr = xp + r * D;
      const float* yr = yp + r * D;
      for (int64_t d = 0; d < D; ++d) xr[d] += g[d] * yr[d];
    }
  });
}

}  // namespace ovis::cpu
