#include "model/img2img.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace ovis {

int img2img_start_index(int steps, double strength) {
  OVIS_CHECK_ARG(std::isfinite(strength) && strength > 0.0 && strength <= 1.0,
                 "strength must be in (0, 1], got " + std::to_string(strength));
  const double init = std::min(double(steps) * strength, double(steps));
  return int(std::max(double(steps) - init, 0.0));  // truncation, like Python's int()
}

Tensor img2img_start_latents(const Tensor& noise, const Tensor& x0, float sigma) {
  OVIS_CHECK_ARG(noise.shape.rank == 4 && x0.shape.rank == 4 && x0.shape[0] == 1 && x0.shape[1] == noise.shape[1] &&
                     x0.shape[2] == noise.shape[2] && x0.shape[3] == noise.shape[3],
                 "image latents " + x0.shape.str() + " do not match the noise " + noise.shape.str());
  const int64_t B = noise.shape[0], n = x0.numel();
  Tensor out = host_f32(noise.shape);
  const float keep = 1.0f - sigma;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < n; ++i)
      out.ptr<float>()[b * n + i] = sigma * noise.ptr<float>()[b * n + i] + keep * x0.ptr<float>()[i];
  return out;
}

}  // namespace ovis
