// NaN/Inf detection on host F32 tensors: damaged weights or overflowing inputs must end in an
// error naming the stage (OVIS_NON_FINITE), not in a black image.
#pragma once
#include <string>

#include "core/tensor.h"

namespace ovis {

// "NaN" or "Inf" for the first non-finite value of a host F32 tensor; nullptr when all are finite.
const char* first_non_finite(const Tensor& host_f32);

// Throws Error("OVIS_NON_FINITE", "<what> is not finite (NaN)...") when `host_f32` holds NaN or Inf.
void require_finite(const Tensor& host_f32, const std::string& what);

// Hint appended to non-finite messages: where such values usually come from.
extern const char* const kNonFiniteHint;

}  // namespace ovis
