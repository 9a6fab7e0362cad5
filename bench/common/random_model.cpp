// Random weights (the rule of weight_init.h), written as bf16 in canonical order.
#include "random_model.h"

#include <cmath>
#include <fstream>
#include <random>
#include <stdexcept>

#include "io/canonical_tensors.h"
#include "weight_init.h"

namespace ovis::bench {

WeightPlan write_random_model(const std::string& path, const RandomModelSpec& spec) {
  std::vector<TensorSpec> specs;
  WeightPlan plan;
  if (spec.dit) {
    auto s = dit_tensor_specs(spec.dit_config);
    specs.insert(specs.end(), s.begin(), s.end());
    plan.has_dit = true;
    plan.dit = spec.dit_config;
  }
  if (spec.text) {
    auto s = text_tensor_specs(spec.text_config);
    specs.insert(specs.end(), s.begin(), s.end());
    plan.has_text = true;
    plan.text = spec.text_config;
  }
  if (spec.vae) {
    auto s = vae_tensor_specs(spec.vae_config, spec.vae_encoder);
    specs.insert(specs.end(), s.begin(), s.end());
    plan.has_vae = true;
    plan.vae = spec.vae_config;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot write " + path);
  plan.files.push_back(path);
  std::mt19937_64 rng(spec.seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  uint64_t offset = 0;
  std::vector<uint16_t> buf;
  for (const auto& t : specs) {
    const int64_t n = t.shape.numel();
    const WeightInit init = random_weight_init(t.name, t.shape);
    buf.resize(size_t(n));
    for (int64_t i = 0; i < n; ++i) buf[size_t(i)] = f32_to_bf16(init.mean + init.stddev * normal(rng));
    out.write(reinterpret_cast<const char*>(buf.data()), std::streamsize(buf.size() * 2));
    PlanTensor pt;
    pt.name = t.name;
    pt.dtype = DType::BF16;
    pt.shape = t.shape;
    pt.pieces.push_back(PlanPiece{0, offset, DType::BF16, t.shape});
    plan.tensors.push_back(std::move(pt));
    offset += uint64_t(n) * 2;
  }
  if (!out) throw std::runtime_error("short write to " + path);
  return plan;
}

}  // namespace ovis::bench
