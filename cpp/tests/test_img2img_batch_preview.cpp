// Image-to-image start point, batches and previews of Engine::generate on the golden tiny model (CPU),
// built on golden case p2's conditioning. The golden image-to-image cases themselves need the
// tokenizer and run from TypeScript (test/img2img.test.ts).
#include <algorithm>
#include <cstring>
#include <memory>

#include "engine.h"
#include "golden_cases.h"
#include "golden_plan.h"
#include "model/img2img.h"
#include "tests/testing.h"

using namespace ovis;

namespace {

Engine& engine() {
  static std::unique_ptr<Engine> e(
      new Engine(parse_plan(format_plan(ovis::test::golden_tiny_plan())), EngineOptions{}));
  return *e;
}

double rel(const Tensor& out, const Tensor& ref) {
  CHECK_MSG(out.shape == ref.shape, "shape " << out.shape.str() << " vs " << ref.shape.str());
  return ovis_test::rel_err(out, ovis_test::to_f64(ref));
}

// Item b of a host tensor [B, ...] as [1, ...] (a copy).
Tensor item(const Tensor& t, int64_t b) {
  Shape s = t.shape;
  s.dims[0] = 1;
  Tensor out = host_f32(s);
  std::memcpy(out.data, t.ptr<float>() + b * s.numel(), size_t(s.numel()) * sizeof(float));
  return out;
}

// [a; b] along the batch.
Tensor stack(const Tensor& a, const Tensor& b) {
  Shape s = a.shape;
  s.dims[0] = 2;
  Tensor out = host_f32(s);
  std::memcpy(out.ptr<float>(), a.data, a.nbytes());
  std::memcpy(out.ptr<float>() + a.numel(), b.data, b.nbytes());
  return out;
}

bool same(const Tensor& a, const Tensor& b) {
  return a.shape == b.shape && std::memcmp(a.data, b.data, a.nbytes()) == 0;
}

}  // namespace

TEST(img2img_start_index_is_int_of_n_minus_n_strength) {
  CHECK(img2img_start_index(6, 0.6) == 2);  // 6 − 3.5999999999999996 = 2.4000000000000004
  CHECK(img2img_start_index(4, 1.0) == 0);
  CHECK(img2img_start_index(50, 0.6) == 20);
  CHECK(img2img_start_index(4, 0.1) == 3);
  CHECK(img2img_start_index(4, 1e-17) == 4);  // no step left
  CHECK_THROWS_CODE(img2img_start_index(4, 0.0), "OVIS_BAD_ARGUMENT");
  CHECK_THROWS_CODE(img2img_start_index(4, 1.5), "OVIS_BAD_ARGUMENT");
}

TEST(batch_of_two_equals_single_runs_also_in_sub_batches) {
  ovis::test::GoldenPipelineCase p = ovis::test::golden_pipeline_case("p2");
  GenerateRequest second = p.req;
  second.noise = ovis_test::random_tensor(p.req.noise.shape, DType::F32, 11);
  const GenerateResult a = engine().generate(p.req, nullptr);
  const GenerateResult b = engine().generate(second, nullptr);
  GenerateRequest both = p.req;
  both.noise = stack(p.req.noise, second.noise);
  for (int max_batch : {0, 1}) {
    both.max_batch = max_batch;
    int events = 0;
    const GenerateResult r = engine().generate(both, [&](const StepInfo&) { ++events; });
    CHECK(events == int(p.req.sigmas.size()) - 1);  // one event per step for the whole batch
    CHECK(r.latents.shape[0] == 2 && r.image.shape[0] == 2);
    CHECK_MSG(rel(item(r.latents, 0), a.latents) <= 1e-5, "image 0, max_batch " << max_batch);
    CHECK_MSG(rel(item(r.latents, 1), b.latents) <= 1e-5, "image 1, max_batch " << max_batch);
    CHECK(rel(item(r.image, 1), b.image) <= 1e-5);
  }
}

TEST(vae_preview_of_the_last_step_is_the_final_image) {
  ovis::test::GoldenPipelineCase p = ovis::test::golden_pipeline_case("p2");
  p.req.preview = PreviewKind::Vae;
  std::vector<Tensor> previews;
  const GenerateResult r = engine().generate(p.req, [&](const StepInfo& s) {
    CHECK(s.preview != nullptr);
    previews.push_back(*s.preview);
  });
  CHECK(previews.size() == p.req.sigmas.size() - 1);
  CHECK(same(previews.back(), r.image));
  CHECK(!same(previews.front(), r.image));
}

TEST(latent_preview_every_second_step_at_one_eighth_size) {
  ovis::test::GoldenPipelineCase p = ovis::test::golden_pipeline_case("p1");  // 4 steps
  p.req.preview = PreviewKind::Latent;
  p.req.preview_every = 2;
  std::vector<int> preview_steps;
  engine().generate(p.req, [&](const StepInfo& s) {
    if (!s.preview) return;
    preview_steps.push_back(s.step);
    CHECK(s.preview->shape == Shape({1, 3, p.height / 8, p.width / 8}));
  });
  CHECK(preview_steps == std::vector<int>({2, 4}));
}

TEST(img2img_strength_one_is_text_to_image_and_fewer_steps_below) {
  ovis::test::GoldenPipelineCase p = ovis::test::golden_pipeline_case("p2");  // 3 steps
  const GenerateResult t2i = engine().generate(p.req, nullptr);
  GenerateRequest req = p.req;
  req.init_image = host_f32({1, 3, p.height, p.width});
  const Tensor ref = p.io.load_f32("image");  // [H, W, 3] in [0, 1]
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t i = 0; i < p.height * p.width; ++i)
      req.init_image.ptr<float>()[c * p.height * p.width + i] = ref.ptr<float>()[i * 3 + c];
  req.strength = 1.0;  // sigma 1: the start is the noise itself
  CHECK(same(engine().generate(req, nullptr).latents, t2i.latents));
  req.strength = 0.5;  // int(3 − 1.5) = 1: two steps from sigma_1
  std::vector<float> sigmas;
  const GenerateResult r = engine().generate(req, [&](const StepInfo& s) {
    CHECK(s.steps == 2);
    sigmas.push_back(s.sigma);
  });
  CHECK(sigmas.size() == 2 && sigmas[0] == p.req.sigmas[1] && sigmas[1] == p.req.sigmas[2]);
  CHECK(rel(r.latents, t2i.latents) > 1e-3);  // it starts from the image
  req.strength = 1e-17;
  CHECK_THROWS_CODE(engine().generate(req, nullptr), "OVIS_BAD_ARGUMENT");
  req.strength = 1.0;
  req.init_image = host_f32({1, 3, 16, 16});
  CHECK_THROWS_CODE(engine().generate(req, nullptr), "OVIS_BAD_ARGUMENT");
}
