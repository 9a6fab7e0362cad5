// Sinusoidal timestep features for the MMDiT's time embedding.
#pragma once
#include <vector>

#include "core/tensor.h"

namespace ovis {

// t = sigma * 1000 per batch row -> host F32 [B, dim] = [cos(t f_i), sin(t f_i)], f_i = 10000^(-i/(dim/2)).
// Products are rounded to float32 as the reference computes them (t f_i reaches ~1000 rad).
Tensor timestep_features(const std::vector<float>& sigmas, int dim);

}  // namespace ovis
