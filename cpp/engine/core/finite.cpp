#include "core/finite.h"

#include <cmath>

#include "core/error.h"

namespace ovis {

const char* const kNonFiniteHint =
    " (weights holding NaN/Inf, or inputs too large; `ovis-image info --check` scans the weights)";

const char* first_non_finite(const Tensor& t) {
  OVIS_CHECK_ARG(t.device == DeviceKind::Host && t.dtype == DType::F32, "first_non_finite needs a host F32 tensor");
  const float* p = t.ptr<float>();
  for (int64_t i = 0, n = t.numel(); i < n; ++i)
    if (!std::isfinite(p[i])) return std::isnan(p[i]) ? "NaN" : "Inf";
  return nullptr;
}

void require_finite(const Tensor& t, const std::string& what) {
  if (const char* kind = first_non_finite(t))
    fail("OVIS_NON_FINITE", what + " is not finite (" + kind + ")" + kNonFiniteHint);
}

}  // namespace ovis
