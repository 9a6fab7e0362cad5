// group_norm: GroupNorm over [B, C, H, W] with affine w, b [C], optionally fused with SiLU (VAE blocks).
#include <cmath>

#include "cpu/ops/common.h"
#include "cpu/ops/ops.h"
#include "cpu/simd/vmath.h"
#include "cpu/thread_pool.h"

namespace ovis::cpu {

Tensor op_group_norm(ThreadPool& pool, const Tensor& x, const Tensor& w, const Tensor& b, int groups, float eps,
                     bool silu) {
  const int64_t B = x.shape[0], C = x.shape[1], HW = x.shape[2] * x.shape[3];
  std::vector<float> wtmp, btmp;
  const float* wp = as_f32(w, wtmp);
  const float* bp = as_f32(b, btmp);
  const int64_t cpg = C / groups, n = cpg * HW;
  // The mean as a float pair (hi + lo) so x - mean keeps its precision when |mean| >> std.
  std::vector<float> mean_hi(size_t(B * groups)), mean_lo(size_t(B * groups)), inv(size_t(B * groups));
  // Pass 1: statistics per (batch, group), each computed by one task so threads do not change them.
  pool.parallel_for(B * groups, [&](int64_t bg) {
    double m = 0.0, var = 0.0;
    mean_var_row(x.ptr<float>() + bg * n, n, &m, &var);
    mean_hi[size_t(bg)] = float(m);
    mean_lo[size_t(bg)] = float(m - double(float(m)));
    inv[size_t(bg)] = float(1.0 / std::sqrt(var + double(eps)));
  });
  // Pass 2: normalise (and SiLU) per (batch, channel) plane, in L1-sized pieces so SiLU reads back
  // what was just written while it is still in cache.
  Tensor y = new_tensor(x.shape);
  constexpr int64_t kPiece = 2048;
  pool.parallel_for(B * C, [&](int64_t bc) {
    const int64_t c = bc % C, bg = (bc / C) * groups + c / cpg;
    // (x - mean) first: folding the mean into the shift (x * a + s) cancels badly when |mean| >> std.
    const float mh = mean_hi[size_t(bg)], ml = mean_lo[size_t(bg)], a = inv[size_t(bg)] * wp[c], s = bp[c];
    const float* xr = x.ptr<float>() + bc * HW;
    float* yr = y.ptr<float>() + bc * HW;
    for (int64_t p0 = 0; p0 < HW; p0 += kPiece) {
      const int64_t p1 = std::min(HW, p0 + kPiece);
      for (int64_t i = p0; i < p1; ++i) yr[i] = ((xr[i] - mh) - ml) * a + s;
      if (silu) silu_row(yr + p0, yr + p0, p1 - p0);
    }
  });
  return y;
}

}  // namespace ovis::cpu
