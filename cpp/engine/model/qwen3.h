// The Qwen3 text encoder (last hidden state), written against the Backend (docs/MODEL.md "Text encoder").
#pragma once
#include <atomic>
#include <vector>

#include "core/backend.h"
#include "io/plan.h"
#include "io/weights.h"
#include "model/weight_binder.h"

namespace ovis {

class Qwen3 {
 public:
  // Declares every canonical tensor with its shape from the config, and binds it (docs/WEIGHTS.md).
  Qwen3(const TextConfig& config, const WeightBinder& weights);
  // Binds to loaded weights (Error OVIS_BAD_WEIGHTS naming the first missing or misshapen tensor).
  Qwen3(const TextConfig& config, const WeightStore& weights) : Qwen3(config, StoreBinder(weights)) {}

  // ids I32 [B, T] and mask F32 [B, T] (1 = real token) on the backend -> final norm(h), [B, T, hidden].
  // Causal attention plus the key padding mask. Checks `cancel` between layers.
  Tensor forward(Backend& be, const Tensor& ids, const Tensor& mask, const std::atomic<bool>* cancel) const;

  const TextConfig& config() const { return c_; }

 private:
  struct Layer {
    const Tensor *attn_norm, *qkv, *q_norm, *k_norm, *o, *mlp_norm, *mlp_in, *mlp_out;
  };
  TextConfig c_;
  const Tensor* embed_ = nullptr;
  const Tensor* norm_ = nullptr;
  std::vector<Layer> layers_;
};

}  // namespace ovis
