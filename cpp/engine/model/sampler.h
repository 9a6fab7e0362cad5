// Latent packing, position ids and the Euler flow-matching loop with classifier-free guidance.
#pragma once
#include <functional>
#include <vector>

#include "core/backend.h"
#include "engine.h"
#include "model/mmdit.h"

namespace ovis {

// diffusers `_pack_latents`: host F32 [B, C, H, W] -> [B, (H/2)(W/2), 4C]; patch (r, c) is row
// r * (W/2) + c and its features are channel-major: index ch * 4 + dy * 2 + dx.
Tensor pack_latents(const Tensor& latents);
// The inverse: host F32 [B, (H/2)(W/2), 4C] -> [B, C, H, W].
Tensor unpack_latents(const Tensor& packed, int64_t channels, int64_t height, int64_t width);

// Position ids, host F32 [n, n_axes]: text token j -> (0, j, j); image patch (r, c) -> (0, r, c)
// (axes past the third stay 0).
Tensor text_position_ids(int64_t tokens, int n_axes);
Tensor image_position_ids(int64_t rows, int64_t cols, int n_axes);

struct SamplerInputs {
  Tensor x;             // backend F32 [B, L, in]: packed start latents of B images
  Tensor ctx, ctx_neg;  // backend [1, T, context_dim], shared by the B images; ctx_neg used only when guidance > 1
  std::vector<float> sigmas;
  float guidance = 1.0f;
  int max_batch = 0;  // images per MMDiT call (0: all B in one call)
  int x0_every = 0;   // compute x̂0 on steps where step % x0_every == 0 (0: never)
};

// What the loop hands out after each step (backend tensors, valid during the call only).
struct SamplerStep {
  int step = 0, steps = 0;     // 1-based step just finished, and the loop's step count
  float sigma = 0;             // sigma at the start of that step
  const Tensor* x = nullptr;   // F32 [B, L, in] after the step
  const Tensor* x0 = nullptr;  // F32 [B, L, in], x̂0 = x_k − σ_k·v (the clean-image prediction), on x0 steps only
};
using SamplerHook = std::function<void(const SamplerStep&)>;

// Runs the loop: v = MMDiT(x, ctx, sigma_k) (with CFG, cond and uncond as one batch of 2B and
// v = v_neg + g (v - v_neg)), x += (sigma_{k+1} - sigma_k) v. The B images go through the MMDiT
// together, in calls of at most max_batch images. Returns the final packed latents (backend F32
// [B, L, in]). Calls on_step after every step; checks `cancel` between steps and blocks.
Tensor euler_sample(Backend& be, const MMDiT& dit, const SamplerInputs& in, const RopeTables& rope,
                    const SamplerHook& on_step, const CancelFlag* cancel);

// Images per MMDiT call that keep the estimated activations of one call under a fixed budget
// (kBatchActivationBudget): at least 1. tokens = text + image tokens of one image.
constexpr double kBatchActivationBudget = 6.0 * (1 << 30);
int max_batch_for(const DitConfig& config, int64_t tokens, bool cfg);

}  // namespace ovis
