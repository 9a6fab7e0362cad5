// The Qwen3 text encoder (last hidden state), written against the Backend (docs/MODEL.md "Text encoder").
#pragma once
#include <atomic>
#include <vector>

#include "core/backend.h"
#include "io/plan.h"
#include "io/weights.h"

namespace ovis {

class Qwen3 {
 public:
  // Resolves and shape-checks every tensor (Error OVIS_BAD_WEIGHTS naming the first bad one).
  Qwen3(const TextConfig& config, const WeightStore& weights);

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
