// flow_match_sigmas: the dynamic-shift schedule (base shift 0.5 at 256 tokens, max 1.15 at 4096).
#include "model/schedule.h"

#include <cmath>

namespace ovis {

std::vector<float> flow_match_sigmas(int steps, int64_t image_tokens) {
  const double mu = 0.5 + (1.15 - 0.5) * double(image_tokens - 256) / (4096 - 256);
  std::vector<float> sigmas;
  for (int k = 0; k < steps; ++k) {
    const double s = steps == 1 ? 1.0 : 1.0 + (1.0 / steps - 1.0) * k / (steps - 1);
    sigmas.push_back(float(std::exp(mu) / (std::exp(mu) + 1.0 / s - 1.0)));
  }
  sigmas.push_back(0.0f);
  return sigmas;
}

}  // namespace ovis
