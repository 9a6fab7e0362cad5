// The cheap live preview: latents projected to RGB with fixed per-channel factors, no VAE.
#pragma once
#include "core/tensor.h"

namespace ovis {

// Packed latents host F32 [B, (h/2)(w/2), 64] (16 channels, in the model's scaled and shifted space)
// -> host F32 [B, 3, h, w], roughly in [-1, 1] like the VAE's output: one pixel per latent, 1/8 of
// the image's size.
Tensor latent_rgb_preview(const Tensor& packed, int64_t height, int64_t width);

}  // namespace ovis
