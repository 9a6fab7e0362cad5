// compare_segments: relative and max-abs error per (batch item, row range).
#include "compare.h"

#include <algorithm>
#include <cmath>

namespace ovis::optable {

namespace {
SegmentError one_segment(const std::vector<double>& out, const std::vector<double>& want, size_t b, size_t e) {
  double num = 0, den = 0, max_diff = 0, max_ref = 0;
  bool nan = false;
  for (size_t i = b; i < e; ++i) {
    const double d = out[i] - want[i];
    nan = nan || std::isnan(out[i]) || std::isnan(want[i]);
    num += d * d;
    den += want[i] * want[i];
    max_diff = std::max(max_diff, std::fabs(d));
    max_ref = std::max(max_ref, std::fabs(want[i]));
  }
  SegmentError s;
  s.rel = nan ? INFINITY : (den > 0 ? std::sqrt(num / den) : std::sqrt(num));
  s.max_abs = nan ? INFINITY : max_diff / std::max(max_ref, 1e-30);
  if (max_ref == 0) s.max_abs = max_diff;
  return s;
}
}  // namespace

SegmentError compare_segments(const std::vector<double>& out, const std::vector<double>& want, const Segments& seg,
                              const Tolerance& tol) {
  SegmentError worst;
  worst.where = "whole output";
  if (out.size() != want.size()) {
    worst.ok = false;
    worst.rel = worst.max_abs = INFINITY;
    worst.where = "size " + std::to_string(out.size()) + " != " + std::to_string(want.size());
    return worst;
  }
  const size_t per_item = out.size() / size_t(std::max<int64_t>(1, seg.batch));
  const size_t inner = per_item / size_t(std::max<int64_t>(1, seg.rows));
  std::vector<int64_t> bounds{0};
  for (int64_t s : seg.splits) bounds.push_back(s);
  bounds.push_back(seg.rows);
  double worst_excess = -1;
  for (int64_t b = 0; b < std::max<int64_t>(1, seg.batch); ++b)
    for (size_t r = 0; r + 1 < bounds.size(); ++r) {
      const size_t begin = size_t(b) * per_item + size_t(bounds[r]) * inner,
                   end = size_t(b) * per_item + size_t(bounds[r + 1]) * inner;
      if (begin == end) continue;
      SegmentError s = one_segment(out, want, begin, end);
      const double excess = std::max(s.rel / tol.rel, s.max_abs / tol.max_abs);
      if (!(excess <= worst_excess)) {
        worst_excess = std::isnan(excess) ? INFINITY : excess;
        s.where = "item " + std::to_string(b) + " rows [" + std::to_string(bounds[r]) + ", " +
                  std::to_string(bounds[r + 1]) + ")";
        s.ok = excess <= 1.0;
        worst = s;
      }
    }
  return worst;
}

}  // namespace ovis::optable
