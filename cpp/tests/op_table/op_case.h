// One op-case table for every backend (the idea of ggml's test-backend-ops): each case names an op, its
// inputs (fresh random host tensors), how to run it on any Backend, its plain reference loops, its
// work (FLOP or bytes, for the size filter and the perf floor) and how its output splits into segments
// (batch items x row ranges, e.g. text rows vs image rows) so an error in one part cannot hide.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/backend.h"

namespace ovis::optable {

struct Input {
  Tensor host;          // F32 (or I32 ids); never all zeros
  bool weight = false;  // uploaded with upload_weight
};

// Output segments: batch items (dim 0) x row ranges of dim 1 (splits are the row boundaries inside).
struct Segments {
  int64_t batch = 1, rows = 1;
  std::vector<int64_t> splits;
};

struct OpCase {
  std::string op, label;
  double work = 0;  // FLOP when flops, else bytes read + written
  bool flops = true;
  double tol_scale = 1;  // loosens the tolerances for ops with long reductions in low precision
  std::function<std::vector<Input>(uint32_t seed)> make;
  // Runs on tensors already on the backend; in-place ops return their first argument.
  std::function<Tensor(Backend&, std::vector<Tensor>&)> run;
  std::function<std::vector<double>(const std::vector<Input>&)> reference;
  std::function<Segments(const Shape& out)> segments;
};

// Full-size cases (the model's real shapes) are too slow for the reference loops in CI: GPU runs do them.
inline bool is_full_size(const OpCase& c) { return c.flops ? c.work > 2e9 : c.work > 5e7; }

// Every case of every op.
std::vector<OpCase> all_cases();

}  // namespace ovis::optable
