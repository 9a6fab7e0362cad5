// Image-to-image start point (MODEL.md "Image-to-image", diffusers' Flux image-to-image).
#pragma once
#include "core/tensor.h"

namespace ovis {

// Index where the schedule of `steps` steps is entered: int(steps − steps·strength), strength in (0, 1]
// (computed in double like the reference). steps − index denoising steps remain.
int img2img_start_index(int steps, double strength);

// σ·noise + (1 − σ)·x0 for each of the B noises: noise host F32 [B, C, h, w], x0 [1, C, h, w]
// (the image's latents, scaled and shifted) -> [B, C, h, w].
Tensor img2img_start_latents(const Tensor& noise, const Tensor& x0, float sigma);

}  // namespace ovis
