#include "model/latent_preview.h"

#include "core/error.h"
#include "model/sampler.h"

namespace ovis {
namespace {

constexpr int kChannels = 16;

// FLUX.1 latent -> RGB factors (rows: latent channel, columns: R, G, B) and bias, as published for
// the FLUX.1 VAE by ComfyUI (comfy/latent_formats.py, class Flux) and used by stable-diffusion.cpp
// for its previews. They apply to the latents the transformer sees ((z − shift)·scale).
constexpr float kFactors[kChannels][3] = {
    {-0.0346f, 0.0244f, 0.0681f},   {0.0034f, 0.0210f, 0.0687f},    {0.0275f, -0.0668f, -0.0433f},
    {-0.0174f, 0.0160f, 0.0617f},   {0.0859f, 0.0721f, 0.0329f},    {0.0004f, 0.0383f, 0.0115f},
    {0.0405f, 0.0861f, 0.0915f},    {-0.0236f, -0.0185f, -0.0259f}, {-0.0245f, 0.0250f, 0.1180f},
    {0.1008f, 0.0755f, -0.0421f},   {-0.0515f, 0.0201f, 0.0011f},   {0.0428f, -0.0012f, -0.0036f},
    {0.0817f, 0.0765f, 0.0749f},    {-0.1264f, -0.0522f, -0.1103f}, {-0.0280f, -0.0881f, -0.0499f},
    {-0.1262f, -0.0982f, -0.0778f},
};
constexpr float kBias[3] = {-0.0329f, -0.0718f, -0.0851f};

}  // namespace

Tensor latent_rgb_preview(const Tensor& packed, int64_t h, int64_t w) {
  OVIS_CHECK_ARG(packed.shape.rank == 3 && packed.shape[2] == 4 * kChannels,
                 "latent preview needs packed latents [B, L, 64], got " + packed.shape.str());
  const Tensor z = unpack_latents(packed, kChannels, h, w);
  const int64_t B = z.shape[0], plane = h * w;
  Tensor rgb = host_f32({B, 3, h, w});
  for (int64_t b = 0; b < B; ++b) {
    const float* src = z.ptr<float>() + b * kChannels * plane;
    float* dst = rgb.ptr<float>() + b * 3 * plane;
    for (int c = 0; c < 3; ++c)
      for (int64_t p = 0; p < plane; ++p) {
        float v = kBias[c];
        for (int ch = 0; ch < kChannels; ++ch) v += src[ch * plane + p] * kFactors[ch][c];
        dst[c * plane + p] = v;
      }
  }
  return rgb;
}

}  // namespace ovis
