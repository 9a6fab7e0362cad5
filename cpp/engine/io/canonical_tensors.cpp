// Canonical tensor lists, recorded from the model constructors' own declarations.
#include "io/canonical_tensors.h"

#include "core/error.h"
#include "model/mmdit.h"
#include "model/qwen3.h"
#include "model/vae.h"

namespace ovis {

std::vector<TensorSpec> dit_tensor_specs(const DitConfig& c) {
  SpecRecorder r;
  const MMDiT declared(c, r);
  return r.specs();
}

std::vector<TensorSpec> text_tensor_specs(const TextConfig& c) {
  SpecRecorder r;
  const Qwen3 declared(c, r);
  return r.specs();
}

std::vector<TensorSpec> vae_tensor_specs(const VaeConfig& c, bool with_encoder) {
  SpecRecorder r;
  const VaeDecoder decoder(c, r);
  if (with_encoder) {
    const VaeEncoder encoder(c, r);
  }
  return r.specs();
}

ModelConfig model_config(const WeightPlan& plan) {
  ModelConfig m;
  m.has_dit = plan.has_dit;
  m.has_text = plan.has_text;
  m.has_vae = plan.has_vae;
  m.dit = plan.dit;
  m.text = plan.text;
  m.vae = plan.vae;
  return m;
}

std::vector<TensorSpec> model_tensor_specs(const ModelConfig& m, bool with_vae_encoder) {
  std::vector<TensorSpec> out;
  auto append = [&](std::vector<TensorSpec> specs) { out.insert(out.end(), specs.begin(), specs.end()); };
  if (m.has_text) append(text_tensor_specs(m.text));
  if (m.has_dit) append(dit_tensor_specs(m.dit));
  if (m.has_vae) append(vae_tensor_specs(m.vae, with_vae_encoder));
  return out;
}

void check_model_tensors(const ModelConfig& m, bool with_vae_encoder,
                         const std::function<const Shape*(const std::string& name)>& shape_of) {
  for (const TensorSpec& spec : model_tensor_specs(m, with_vae_encoder)) {
    const Shape* s = shape_of(spec.name);
    if (!s)
      fail("OVIS_BAD_WEIGHTS",
           "weights lack tensor " + spec.name + " (the checkpoint is incomplete or of another model)");
    if (*s != spec.shape)
      fail("OVIS_BAD_WEIGHTS",
           "tensor " + spec.name + " has shape " + s->str() + ", the config needs " + spec.shape.str());
  }
}

}  // namespace ovis
