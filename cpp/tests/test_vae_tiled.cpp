// Tiled VAE (model/vae_tiled.h) against diffusers' tiled_decode / _tiled_encode on the golden tiny VAE
// (vae_tiled/vt1, pipeline/pt1), the 'auto' rule under a memory budget, and the tile checks.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>

#include "counting_backend.h"
#include "engine.h"
#include "golden_cases.h"
#include "golden_plan.h"
#include "io/canonical_tensors.h"
#include "io/mapped_file.h"
#include "io/weights.h"
#include "model/sampler.h"
#include "model/vae_tiled.h"
#include "safetensors_reader.h"
#include "tests/testing.h"

using namespace ovis;
using ovis::test::SafetensorsFile;

namespace {

const WeightPlan& plan() {
  static const WeightPlan p = ovis::test::golden_tiny_plan();
  return p;
}

Engine& cpu_engine() {
  static std::unique_ptr<Engine> e(new Engine(plan(), EngineOptions{}));
  return *e;
}

#define CHECK_CLOSE(out, ref, tol, ctx)                                                               \
  do {                                                                                                \
    const Tensor o_ = (out), r_ = (ref);                                                              \
    CHECK_MSG(o_.shape == r_.shape, ctx << ": shape " << o_.shape.str() << " vs " << r_.shape.str()); \
    const double e_ = ovis_test::rel_err(o_, ovis_test::to_f64(r_));                                  \
    std::printf("       %-40s rel err %.3g\n", ctx, e_);                                              \
    CHECK_MSG(e_ <= (tol), ctx << ": rel err " << e_ << " > " << (tol));                              \
  } while (0)

VaeTiling fixed(int tile, double overlap = 0.25) {
  VaeTiling t;
  t.mode = VaeTiling::Mode::Fixed;
  t.tile = tile;
  t.overlap = overlap;
  return t;
}

VaeTiling off() {
  VaeTiling t;
  t.mode = VaeTiling::Mode::Off;
  return t;
}

// [B, 2C, h, w] -> channels [from, from + C).
Tensor channel_half(const Tensor& m, int64_t from) {
  const int64_t C = m.shape[1] / 2, hw = m.shape[2] * m.shape[3];
  Tensor out = host_f32({m.shape[0], C, m.shape[2], m.shape[3]});
  for (int64_t b = 0; b < m.shape[0]; ++b)
    std::memcpy(out.ptr<float>() + b * C * hw, m.ptr<float>() + (b * 2 * C + from) * hw,
                size_t(C * hw) * sizeof(float));
  return out;
}

// An engine on a CountingBackend whose free memory the test sets, with the tiny model's weights.
struct BudgetEngine {
  ovis::test::CountingBackend* spy = nullptr;
  std::unique_ptr<Engine> engine;
};

BudgetEngine budget_engine() {
  BudgetEngine b;
  auto counting = std::make_unique<ovis::test::CountingBackend>(create_cpu_backend(0));
  b.spy = counting.get();
  std::map<std::string, Tensor> tensors;
  std::vector<std::shared_ptr<MappedFile>> files;
  for (const std::string& f : plan().files) files.push_back(std::make_shared<MappedFile>(f));
  for (const PlanTensor& t : plan().tensors) {
    Tensor view = assemble_host_tensor(t, files);
    Tensor own = host_copy(view);
    tensors[t.name] = own;
  }
  b.engine = std::make_unique<Engine>(std::move(counting), std::make_unique<WeightStore>(std::move(tensors)),
                                      model_config(plan()));
  return b;
}

}  // namespace

TEST(vae_tiled_decode_matches_diffusers) {
  SafetensorsFile io = ovis::test::golden_file("vae_tiled/vt1/io.safetensors");
  Tensor out = cpu_engine().vae_decode(io.load_f32("latent"), nullptr, fixed(128));
  CHECK_CLOSE(out, io.load_f32("decoded_tiled"), 1e-5, "vt1 tiled decode");
}

TEST(vae_tiled_encode_matches_diffusers) {
  SafetensorsFile io = ovis::test::golden_file("vae_tiled/vt1/io.safetensors");
  Tensor mean, logvar;
  cpu_engine().vae_encode(io.load_f32("image"), &mean, &logvar, nullptr, fixed(128));
  Tensor ref = io.load_f32("encoded_tiled_moments");
  CHECK_CLOSE(mean, channel_half(ref, 0), 1e-5, "vt1 tiled encode mean");
  CHECK_CLOSE(logvar, channel_half(ref, 16), 1e-5, "vt1 tiled encode logvar");
}

TEST(vae_tiled_pipeline_pt1_image) {
  // The reference's final latents through our tiled decode give its image within +-1/255.
  ovis::test::GoldenPipelineCase p{ovis::test::golden_file("pipeline/pt1/io.safetensors"), {}, 192, 256};
  const VaeConfig& c = plan().vae;
  Tensor z = unpack_latents(p.io.load_f32("final_latents_packed"), c.latent_channels, 24, 32);
  for (int64_t i = 0; i < z.numel(); ++i) z.ptr<float>()[i] = z.ptr<float>()[i] / c.scaling_factor + c.shift_factor;
  const ovis::test::ImageDiff d =
      ovis::test::compare_image(cpu_engine().vae_decode(z, nullptr, fixed(128)), p.io.load_f32("image"));
  CHECK_MSG(d.beyond_1_255 <= d.total / 1000, "pt1: " << d.beyond_1_255 << " of " << d.total << " values beyond 1/255");
  // Untiled, the same latents give a visibly different image: the test would notice a missing tiling.
  const ovis::test::ImageDiff whole =
      ovis::test::compare_image(cpu_engine().vae_decode(z, nullptr, off()), p.io.load_f32("image"));
  CHECK(whole.beyond_1_255 > whole.total / 1000);
}

TEST(vae_tiling_auto_follows_free_memory) {
  SafetensorsFile io = ovis::test::golden_file("vae_tiled/vt1/io.safetensors");
  Tensor latent = io.load_f32("latent");
  const VaeConfig& c = plan().vae;
  BudgetEngine b = budget_engine();
  // Plenty of memory: today's untiled decode, bit for bit.
  b.spy->free_bytes = vae_decode_bytes(c, 24, 40);
  CHECK(ovis_test::same_bytes(b.engine->vae_decode(latent), cpu_engine().vae_decode(latent, nullptr, off())));
  // Room for a 128 px tile only: the 128 px / 0.25 tiling.
  b.spy->free_bytes = vae_decode_bytes(c, 16, 16);
  CHECK_CLOSE(b.engine->vae_decode(latent), io.load_f32("decoded_tiled"), 1e-5, "vt1 auto decode");
  b.spy->free_bytes = vae_encode_bytes(c, 128, 128);
  Tensor mean;
  b.engine->vae_encode(io.load_f32("image"), &mean, nullptr);
  CHECK_CLOSE(mean, channel_half(io.load_f32("encoded_tiled_moments"), 0), 1e-5, "vt1 auto encode mean");
}

TEST(vae_tiling_auto_picks_the_largest_tile_that_fits) {
  const VaeConfig& c = plan().vae;
  VaeTiling a;  // auto
  CHECK(resolve_decode_tiling(a, c, 128, 128, vae_decode_bytes(c, 128, 128)).mode == VaeTiling::Mode::Off);
  VaeTiling t = resolve_decode_tiling(a, c, 128, 128, vae_decode_bytes(c, 32, 32));
  CHECK(t.mode == VaeTiling::Mode::Fixed && t.tile == 256 && t.overlap == 0.25);
  t = resolve_decode_tiling(a, c, 128, 128, 1);
  CHECK(t.mode == VaeTiling::Mode::Fixed && t.tile == 128);
  // Explicit choices are kept whatever the memory.
  CHECK(resolve_decode_tiling(off(), c, 128, 128, 1).mode == VaeTiling::Mode::Off);
  CHECK(resolve_decode_tiling(fixed(64), c, 128, 128, SIZE_MAX).tile == 64);
}

TEST(vae_tiling_small_inputs_run_whole) {
  // As in diffusers: no larger than one tile = the untiled result.
  SafetensorsFile io = ovis::test::golden_file("vae/v1/io.safetensors");
  Tensor latent = io.load_f32("latent");
  CHECK(ovis_test::same_bytes(cpu_engine().vae_decode(latent, nullptr, fixed(128)),
                              cpu_engine().vae_decode(latent, nullptr, off())));
}

TEST(vae_tiling_bad_tiles_are_argument_errors) {
  Engine& e = cpu_engine();
  Tensor z = host_f32({1, 16, 24, 40});
  CHECK_THROWS_CODE(e.vae_decode(z, nullptr, fixed(100)), "OVIS_BAD_ARGUMENT");  // not a multiple of 8
  CHECK_THROWS_CODE(e.vae_decode(z, nullptr, fixed(8)), "OVIS_BAD_ARGUMENT");    // below 2 latents
  CHECK_THROWS_CODE(e.vae_decode(z, nullptr, fixed(128, 1.0)), "OVIS_BAD_ARGUMENT");
  CHECK_THROWS_CODE(e.vae_decode(z, nullptr, fixed(128, -0.1)), "OVIS_BAD_ARGUMENT");
  CHECK_THROWS_CODE(e.vae_decode(z, nullptr, fixed(128, 0.3)), "OVIS_BAD_ARGUMENT");  // 89.6 px strides
  CHECK_THROWS_CODE(e.vae_encode(host_f32({1, 3, 192, 320}), nullptr, nullptr, nullptr, fixed(128, 0.3)),
                    "OVIS_BAD_ARGUMENT");
  // The engine is still usable.
  Tensor small = host_f32({1, 16, 2, 2});  // uninitialised memory may hold NaN, which decode refuses
  std::fill(small.ptr<float>(), small.ptr<float>() + small.numel(), 0.25f);
  CHECK(e.vae_decode(small).shape == Shape({1, 3, 16, 16}));
}
