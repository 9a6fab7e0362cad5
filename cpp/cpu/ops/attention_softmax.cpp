// The online-softmax steps of blockwise attention (see attention_softmax.h).
#include "cpu/ops/attention_softmax.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "cpu/ops/common.h"
#include "cpu/simd/vmath.h"

namespace ovis::cpu {

void load_head_row(const Tensor& t, int64_t b, int64_t s, int64_t h, float* dst) {
  const int64_t S = t.shape[1], H = t.shape[2], hd = t.shape[3];
  const size_t off = size_t(((b * S + s) * H + h) * hd);
  convert_to_f32(static_cast<const char*>(t.data) + off * dtype_size(t.dtype), t.dtype, dst, size_t(hd));
}

void online_softmax_row(const ScoreMask& mask, int64_t b, int64_t i, int64_t k0, int64_t kn, int64_t kpad, float* srow,
                        const SoftmaxRow& row) {
  const float neg_inf = -std::numeric_limits<float>::infinity();
  for (int64_t c = kn; c < kpad; ++c) srow[c] = neg_inf;
  if (mask.key_mask)
    for (int64_t c = 0; c < kn; ++c)
      if (mask.key_mask[b * mask.Sk + k0 + c] == 0.f) srow[c] = neg_inf;
  if (mask.causal)
    for (int64_t c = std::max<int64_t>(0, i + 1 - k0); c < kn; ++c) srow[c] = neg_inf;
  const float bm = row_max(srow, kpad);  // NaN if any score is NaN: it must poison the row
  const float m_new = std::isnan(bm) ? bm : std::max(row.max, bm);
  if (m_new == neg_inf) {  // nothing visible yet in this row
    std::memset(srow, 0, sizeof(float) * size_t(kpad));
    return;
  }
  const float alpha = row.max == neg_inf ? 0.f : std::exp(row.max - m_new);
  const float sum = exp_shifted_sum(srow, kpad, m_new);
  row.sum = row.sum * alpha + sum;
  row.max = m_new;
  if (alpha != 1.f)
    for (int64_t d = 0; d < row.width; ++d) row.out[d] *= alpha;
}

void write_normalized_row(const float* out, float sum, int64_t hd, float* dst) {
  if (sum == 0.f) {
    std::memset(dst, 0, sizeof(float) * size_t(hd));
    return;
  }
  const float inv = 1.f / sum;
  for (int64_t d = 0; d < hd; ++d) dst[d] = out[d] * inv;
}

}  // namespace ovis::cpu
