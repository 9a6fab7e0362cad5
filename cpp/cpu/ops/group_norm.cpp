// group_norm: GroupNorm over [B, C, H, W] with affine w, b [C], optionally fused with SiLU (VAE blocks).
#include <cmath>

#include "cpu/ops/common.h"
#include "cpu/ops/ops.h"
#include "cpu/simd/vmath.h"
#include "cpu/thread_pool.h"

namespace ovis::cpu {

Tensor op_group_norm(ThreadPool& pool, const Tensor& x, const Tensor& w, const Tensor& b, int groups, float eps,
                     bool silu) {
  const char* op = "group_norm";
  require_f32(x, op, "x");
  require_float(w, op, "w");
  require_float(b, op, "b");
  if (x.shape.rank != 4) bad_arg(op, "x must be [B, C, H, W], got " + describe(x));
  const int64_t B = x.shape[0], C = x.shape[1], HW = x.shape[2] * x.shape[3];
  if (groups <= 0 || C % groups != 0)
    bad_arg(op, "groups (" + std::to_string(groups) + ") must divide C (" + std::to_string(C) + ")");
  if (w.shape.rank != 1 || w.shape[0] != C || b.shape.rank != 1 || b.shape[0] != C)
    bad_arg(op, "w and b must be [" + std::to_string(C) + "], got " + w.shape.str() + " and " + b.shape.str());
  std::vector<float> wtmp, btmp;
  const float* wp = as_f32(w, wtmp);
  const float* bp = as_f32(b, btmp);
  const int64_t cpg = C / groups, n = cpg * HW;
  std::vector<float> mean(size_t(B * groups)), inv(size_t(B * groups));
  // Pass 1: statistics per (batch, group), each computed by one task so threads do not change them.
  pool.parallel_for(B * groups, [&](int64_t bg) {
    const float* xg = x.ptr<float>() + bg * n;
    const double m = sum_row(xg, n) / double(n);
    const double var = sum_sq_dev_row(xg, n, m) / double(n);
    mean[size_t(bg)] = float(m);
    inv[size_t(bg)] = float(1.0 / std::sqrt(var + double(eps)));
  });
  // Pass 2: normalise per (batch, channel) plane.
  Tensor y = new_tensor(x.shape);
  pool.parallel_for(B * C, [&](int64_t bc) {
    const int64_t c = bc % C, bg = (bc / C) * groups + c / cpg;
    const float a = inv[size_t(bg)] * wp[c];
    const float s = bp[c] - mean[size_t(bg)] * a;
    const float* xr = x.ptr<float>() + bc * HW;
    float* yr = y.ptr<float>() + bc * HW;
    for (int64_t i = 0; i < HW; ++i) yr[i] = xr[i] * a + s;
    if (silu) silu_row(yr, yr, HW);
  });
  return y;
}

}  // namespace ovis::cpu
