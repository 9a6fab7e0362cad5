// The canonical tensors a model of a given config must have (docs/WEIGHTS.md): names and shapes.
// Used to validate a plan before loading and to build random-weight models for benchmarks.
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/plan.h"

namespace ovis {

struct TensorSpec {
  std::string name;
  Shape shape;
};

std::vector<TensorSpec> dit_tensor_specs(const DitConfig& c);
std::vector<TensorSpec> text_tensor_specs(const TextConfig& c);
// with_encoder: also the encoder's tensors (decode-only plans omit them).
std::vector<TensorSpec> vae_tensor_specs(const VaeConfig& c, bool with_encoder);

}  // namespace ovis
