// Tiled VAE and layer offload on the CUDA backend (fp32 mode, so the CPU golden bounds apply): the tiled
// decode and encode against diffusers (vae_tiled/vt1), and a whole run with the MMDiT's blocks streamed
// from pinned host memory on the copy stream, which must give the resident engine's image exactly.
// `ovis_cuda_tests --device cpu cuda_offload` runs them on the CPU backend (a check of the tests).
#include <cstdio>
#include <cstring>
#include <memory>

#include "cuda_test_options.h"
#include "engine.h"
#include "tests/golden_cases.h"
#include "tests/golden_plan.h"
#include "tests/testing.h"

using namespace ovis;

namespace {

EngineOptions fp32_options(std::optional<OffloadMode> offload = std::nullopt) {
  EngineOptions o;
  o.backend.device = ovis_cuda_test::options().device;
  o.backend.fp32 = true;
  o.offload = offload;
  return o;
}

VaeTiling tile_128() {
  VaeTiling t;
  t.mode = VaeTiling::Mode::Fixed;
  t.tile = 128;
  return t;
}

// [B, 2C, h, w] -> channels [from, from + C).
Tensor channel_half(const Tensor& m, int64_t from) {
  const int64_t C = m.shape[1] / 2, hw = m.shape[2] * m.shape[3];
  Tensor out = host_f32({1, C, m.shape[2], m.shape[3]});
  std::memcpy(out.ptr<float>(), m.ptr<float>() + from * hw, size_t(C * hw) * sizeof(float));
  return out;
}

double rel(const Tensor& out, const Tensor& ref) {
  CHECK_MSG(out.shape == ref.shape, "shape " << out.shape.str() << " vs reference " << ref.shape.str());
  return ovis_test::rel_err(out, ovis_test::to_f64(ref));
}

}  // namespace

TEST(cuda_offload_vae_tiled_vt1) {
  Engine e(ovis::test::golden_tiny_plan(), fp32_options());
  ovis::test::SafetensorsFile io = ovis::test::golden_file("vae_tiled/vt1/io.safetensors");
  const double dec = rel(e.vae_decode(io.load_f32("latent"), nullptr, tile_128()), io.load_f32("decoded_tiled"));
  Tensor mean, logvar;
  e.vae_encode(io.load_f32("image"), &mean, &logvar, nullptr, tile_128());
  const Tensor moments = io.load_f32("encoded_tiled_moments");
  const double m = rel(mean, channel_half(moments, 0)), lv = rel(logvar, channel_half(moments, 16));
  std::printf("       vt1 tiled on %s: decode %.3g, encode mean %.3g, logvar %.3g\n", e.backend_name().c_str(), dec, m,
              lv);
  CHECK(dec <= 1e-5 && m <= 1e-5 && lv <= 1e-5);
}

TEST(cuda_offload_layers_give_the_resident_image) {
  const WeightPlan plan = ovis::test::golden_tiny_plan();
  Engine resident(plan, fp32_options());
  Engine streamed(plan, fp32_options(OffloadMode::Layers));
  CHECK(streamed.offload() == OffloadMode::Layers && streamed.layer_plan() != nullptr);
  std::printf("       layer offload on %s: %d block(s) ahead, planned peak %zu bytes\n",
              streamed.backend_name().c_str(), streamed.layer_plan()->ahead, streamed.layer_plan()->peak_bytes);
  for (int round = 0; round < 2; ++round) {
    const GenerateRequest req = ovis::test::golden_pipeline_case("p1").req;
    const GenerateResult a = resident.generate(req, nullptr), b = streamed.generate(req, nullptr);
    CHECK_MSG(ovis_test::same_bytes(a.latents, b.latents), "round " << round << ": streamed latents differ");
    CHECK_MSG(ovis_test::same_bytes(a.image, b.image), "round " << round << ": streamed image differs");
  }
}
