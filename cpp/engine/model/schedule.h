// The flow-matching sigma schedule of Ovis-Image (docs/MODEL.md "Schedule"), written once in C++ for
// the C++ tests and benches (the TypeScript side computes the request's sigmas from the scheduler config).
#pragma once
#include <cstdint>
#include <vector>

namespace ovis {

// s_k = linspace(1, 1/N, N); mu = 0.5 + 0.65 (L - 256) / 3840 for L image tokens;
// sigma_k = e^mu / (e^mu + 1/s_k - 1); returns N + 1 values, the last 0.
std::vector<float> flow_match_sigmas(int steps, int64_t image_tokens);

}  // namespace ovis
