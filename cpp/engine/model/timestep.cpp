#include "model/timestep.h"

#include <cmath>

namespace ovis {

Tensor timestep_features(const std::vector<float>& sigmas, int dim) {
  const int half = dim / 2;
  const int64_t B = int64_t(sigmas.size());
  Tensor out = host_f32({B, dim});
  const float log_period = float(std::log(10000.0));
  for (int64_t b = 0; b < B; ++b) {
    const float t = sigmas[size_t(b)] * 1000.0f;
    float* row = out.ptr<float>() + b * dim;
    for (int i = 0; i < half; ++i) {
      const float exponent = -log_period * float(i) / float(half);
      const float arg = t * std::exp(exponent);
      row[i] = float(std::cos(double(arg)));
      row[half + i] = float(std::sin(double(arg)));
    }
    if (dim % 2) row[dim - 1] = 0.0f;
  }
  return out;
}

}  // namespace ovis
