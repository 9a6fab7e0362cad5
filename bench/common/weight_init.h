// The random-weight rule shared by the CPU and GPU benchmarks, chosen so activations stay O(1)
// through dozens of layers: matrices and convolutions N(0, 1/fan_in), embeddings N(0, 1), norm
// scales 1 + N(0, 0.05²), biases N(0, 0.02²). Header-only: the GPU bench does not link ovis_bench_common.
#pragma once
#include <cmath>
#include <string>

#include "core/tensor.h"

namespace ovis::bench {

struct WeightInit {
  float mean = 0, stddev = 0;
};

inline WeightInit random_weight_init(const std::string& name, const Shape& shape) {
  auto ends_with = [&](const char* suffix) {
    const std::string s(suffix);
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  if (shape.rank == 1) return ends_with(".bias") ? WeightInit{0.f, 0.02f} : WeightInit{1.f, 0.05f};
  if (ends_with("embed.weight")) return {0.f, 1.f};
  const double fan_in = double(shape.numel() / shape[0]);
  return {0.f, float(1.0 / std::sqrt(fan_in))};
}

}  // namespace ovis::bench
