// A model with random bf16 weights written to one file, with its plan: benchmarks need the real
// engine path (plan -> mmap -> backend) without 20 GB of checkpoints.
#pragma once
#include <cstdint>
#include <string>

#include "io/plan.h"

namespace ovis::bench {

struct RandomModelSpec {
  bool dit = false, text = false, vae = false, vae_encoder = false;
  DitConfig dit_config;
  TextConfig text_config;
  VaeConfig vae_config;
  uint64_t seed = 1;
};

// Writes every canonical tensor of the enabled components to `path` (bf16, scaled so activations stay
// O(1)) and returns the plan that reads them.
WeightPlan write_random_model(const std::string& path, const RandomModelSpec& spec);

}  // namespace ovis::bench
