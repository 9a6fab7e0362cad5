// The MMDiT (Ovis-Image transformer) written against the Backend interface (docs/MODEL.md "MMDiT").
#pragma once
#include <functional>
#include <vector>

#include "core/backend.h"
#include "io/plan.h"
#include "io/weights.h"
#include "model/rope.h"
#include "model/weight_binder.h"

namespace ovis {

using CancelFlag = std::atomic<bool>;

// Width of the sinusoidal timestep features fed to dit.time_in.0 (docs/MODEL.md, MMDiT step 2).
constexpr int64_t kTimestepFeatures = 256;

// One stream (image or text) of a double block.
struct DitStreamW {
  LinearW mod, qkv, proj, mlp_in, mlp_out;
  const Tensor* q_norm = nullptr;
  const Tensor* k_norm = nullptr;
};
struct DitDoubleW {
  DitStreamW img, txt;
};
struct DitSingleW {
  LinearW mod, linear1, linear2;
  const Tensor* q_norm = nullptr;
  const Tensor* k_norm = nullptr;
};

// Double-stream block: updates img [B, L, D] and txt [B, T, D] in place.
void dit_double_block(Backend& be, const DitConfig& c, const DitDoubleW& w, Tensor& img, Tensor& txt,
                      const Tensor& silu_temb, const RopeTables& rope);
// Single-stream block on h = [txt; img] [B, T + L, D], in place.
void dit_single_block(Backend& be, const DitConfig& c, const DitSingleW& w, Tensor& h, const Tensor& silu_temb,
                      const RopeTables& rope);
// Joint attention of already-normed q, k [B, S, H, hd] (RoPE applied here) and v: -> [B, S, D].
Tensor dit_attention(Backend& be, const DitConfig& c, Tensor& q, Tensor& k, const Tensor& v, const RopeTables& rope);

// Called around each block, numbered in run order (double blocks, then single blocks): layer offload
// streams weights in and out here. `abandon` runs when a forward stops midway (an error, a cancel).
struct BlockHooks {
  std::function<void(int)> before, after;
  std::function<void()> abandon;
};

class MMDiT {
 public:
  // Declares every canonical tensor with its shape from the config, and binds it (docs/WEIGHTS.md).
  MMDiT(const DitConfig& config, const WeightBinder& weights);
  // Binds to loaded weights (Error OVIS_BAD_WEIGHTS naming the first missing or misshapen tensor).
  MMDiT(const DitConfig& config, const WeightStore& weights) : MMDiT(config, StoreBinder(weights)) {}

  // Positions for [text; image]: txt_ids host F32 [T, n_axes], img_ids host F32 [L, n_axes].
  RopeTables rope(Backend& be, const Tensor& txt_ids, const Tensor& img_ids) const;

  // x [B, L, in], ctx [B, T, context_dim] on the backend; sigmas: B values in [0, 1].
  // Returns the velocity [B, L, out]. Checks `cancel` between blocks.
  Tensor forward(Backend& be, const Tensor& x, const Tensor& ctx, const std::vector<float>& sigmas,
                 const RopeTables& rope, const CancelFlag* cancel) const;

  const DitConfig& config() const { return c_; }
  int block_count() const { return int(double_.size() + single_.size()); }
  // Canonical tensor names of block i (run order), as the store holds them.
  std::vector<std::string> block_tensor_names(const WeightStore& weights, int block) const;
  // Hooks for every later forward (null: none). The hooks must outlive their use.
  void set_block_hooks(const BlockHooks* hooks) { hooks_ = hooks; }

 private:
  DitConfig c_;
  LinearW img_in_, txt_in_, time0_, time1_, final_mod_, final_linear_;
  const Tensor* txt_norm_ = nullptr;
  std::vector<DitDoubleW> double_;
  std::vector<DitSingleW> single_;
  const BlockHooks* hooks_ = nullptr;
};

}  // namespace ovis
