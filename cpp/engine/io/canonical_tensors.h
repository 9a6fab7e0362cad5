// The canonical tensors a model of a given config must have (docs/WEIGHTS.md): names and shapes.
// Not a second description of the networks: these lists are what the model constructors declare
// (model/weight_binder.h), recorded without binding anything. Used to validate a plan before
// mapping gigabytes and to build random-weight models for benchmarks.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/plan.h"
#include "model/weight_binder.h"

namespace ovis {

std::vector<TensorSpec> dit_tensor_specs(const DitConfig& c);
std::vector<TensorSpec> text_tensor_specs(const TextConfig& c);
// with_encoder: also the encoder's tensors (decode-only plans omit them).
std::vector<TensorSpec> vae_tensor_specs(const VaeConfig& c, bool with_encoder);

// Which networks a model has and their configs (a WeightPlan carries the same fields).
struct ModelConfig {
  bool has_dit = false, has_text = false, has_vae = false;
  DitConfig dit;
  TextConfig text;
  VaeConfig vae;
};
ModelConfig model_config(const WeightPlan& plan);

// Every canonical tensor of the enabled networks (the VAE encoder's only when with_vae_encoder).
std::vector<TensorSpec> model_tensor_specs(const ModelConfig& m, bool with_vae_encoder);

// Checks that every canonical tensor is present with its shape. shape_of returns null for an absent
// tensor. Throws Error("OVIS_BAD_WEIGHTS") naming the first missing or misshapen tensor. Extra
// tensors are allowed (e.g. a VAE shortcut conv the config does not need).
void check_model_tensors(const ModelConfig& m, bool with_vae_encoder,
                         const std::function<const Shape*(const std::string& name)>& shape_of);

}  // namespace ovis
