// Latent packing, position ids and the Euler flow-matching loop with classifier-free guidance.
#pragma once
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
  Tensor x;                 // backend F32 [1, L, in]: packed initial noise
  Tensor ctx, ctx_neg;      // backend [1, T, context_dim]; ctx_neg used only when guidance > 1
  std::vector<float> sigmas;
  float guidance = 1.0f;
  bool report_latents = false;
};

// Runs the loop: v = MMDiT(x, ctx, sigma_k) (with CFG, cond and uncond as one batch of 2 and
// v = v_neg + g (v - v_neg)), x += (sigma_{k+1} - sigma_k) v. Returns the final packed latents
// (backend F32 [1, L, in]). Calls on_step after every step; checks `cancel` between steps and blocks.
Tensor euler_sample(Backend& be, const MMDiT& dit, const SamplerInputs& in, const RopeTables& rope,
                    const StepCallback& on_step, const CancelFlag* cancel);

}  // namespace ovis
