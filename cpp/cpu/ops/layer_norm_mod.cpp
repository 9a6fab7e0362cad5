// layer_norm_mod: LayerNorm (no affine) over D, then * (1 + scale[b]) + shift[b] (adaLN modulation).
#include <cmath>

#include "cpu/ops/common.h"
#include "cpu/ops/ops.h"
#include "cpu/simd/vmath.h"
#include "cpu/thread_pool.h"

namespace ovis::cpu {

Tensor op_layer_norm_mod(ThreadPool& pool, const Tensor& x, const Tensor* shift, const Tensor* scale, float eps) {
  const int64_t D = x.shape[-1];
  const int64_t S = shift || scale ? x.shape[1] : 1;
  Tensor y = new_tensor(x.shape);
  const int64_t rows = D > 0 ? x.numel() / D : 0;
  pool.parallel_range(rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(D, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* xr = x.ptr<float>() + r * D;
      float* yr = y.ptr<float>() + r * D;
      const double mean = sum_row(xr, D) / double(D);
      const double var = sum_sq_dev_row(xr, D, mean) / double(D);
      const float inv = float(1.0 / std::sqrt(var + double(eps)));
      const float mf = float(mean);
      const int64_t bi = r / S;
      const float* sh = shift ? shift->ptr<float>() + bi * D : nullptr;
      const float* sc = scale ? scale->ptr<float>() + bi * D : nullptr;
      for (int64_t d = 0; d < D; ++d) {
        float v = (xr[d] - mf) * inv;
        if (sc) v *= 1.f + sc[d];
        if (sh) v += sh[d];
        yr[d] = v;
      }
    }
  });
  return y;
}

}  // namespace ovis::cpu
