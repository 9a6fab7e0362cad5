// Per-segment error of a backend's output against expected values.
#pragma once
#include <string>
#include <vector>

#include "op_case.h"

namespace ovis::optable {

struct Tolerance {
  double rel, max_abs;  // ||o - r|| / ||r|| and max|o - r| / max|r|, each per segment
};

struct SegmentError {
  double rel = 0, max_abs = 0;
  std::string where;  // "item 1 rows [256, 4352)" of the worst segment
  bool ok = true;
};

// The worst segment (by how far past its tolerance it is); NaN anywhere fails.
SegmentError compare_segments(const std::vector<double>& out, const std::vector<double>& want, const Segments& seg,
                              const Tolerance& tol);

}  // namespace ovis::optable
