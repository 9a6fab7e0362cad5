// rms_norm: x / sqrt(mean(x^2) + eps) * w over the last dim (w may be bf16/f16/f32).
#include <cmath>

#include "cpu/ops/common.h"
#include "cpu/ops/ops.h"
#include "cpu/simd/vmath.h"
#include "cpu/thread_pool.h"

namespace ovis::cpu {

Tensor op_rms_norm(ThreadPool& pool, const Tensor& x, const Tensor& w, float eps) {
  const int64_t d = x.shape[-1];
  std::vector<float> wtmp;
  const float* wp = as_f32(w, wtmp);
  Tensor y = new_tensor(x.shape);
  const int64_t rows = d > 0 ? x.numel() / d : 0;
  pool.parallel_range(rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(d, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* xr = x.ptr<float>() + r * d;
      float* yr = y.ptr<float>() + r * d;
      const double ms = sum_sq_dev_row(xr, d, 0.0) / double(d);
      const float inv = float(1.0 / std::sqrt(ms + double(eps)));
      for (int64_t i = 0; i < d; ++i) yr[i] = xr[i] * inv * wp[i];
    }
  });
  return y;
}

}  // namespace ovis::cpu
