// The engine's three networks and the whole pipeline against the reference implementation's answers
// on the golden tiny model (test/fixtures/golden; see its README), on the CPU backend.
#include <algorithm>
#include <cmath>
#include <memory>

#include "engine.h"
#include "golden_cases.h"
#include "golden_plan.h"
#include "model/sampler.h"
#include "safetensors_reader.h"
#include "tests/testing.h"

using namespace ovis;
using ovis::test::Json;
using ovis::test::SafetensorsFile;

namespace {

const WeightPlan& tiny_plan() {
  // Through plan text, as the addon receives it.
  static const WeightPlan plan = parse_plan(format_plan(ovis::test::golden_tiny_plan()));
  return plan;
}

Engine& tiny_engine() {
  static std::unique_ptr<Engine> engine(new Engine(tiny_plan(), EngineOptions{}));
  return *engine;
}

SafetensorsFile golden(const std::string& rel) { return ovis::test::golden_file(rel); }

double rel(const Tensor& out, const Tensor& ref) {
  CHECK_MSG(out.shape == ref.shape, "shape " << out.shape.str() << " vs reference " << ref.shape.str());
  return ovis_test::rel_err(out, ovis_test::to_f64(ref));
}

#define CHECK_GOLDEN(out, ref, tol, ctx)                                      \
  do {                                                                        \
    const double e_ = rel((out), (ref));                                      \
    std::printf("       %-40s rel err %.3g\n", std::string(ctx).c_str(), e_); \
    CHECK_MSG(e_ <= (tol), ctx << ": rel err " << e_ << " > " << (tol));      \
  } while (0)

Tensor as_i32(const Tensor& f) { return ovis::test::ids_as_i32(f); }

using PipelineCase = ovis::test::GoldenPipelineCase;
PipelineCase pipeline_case(const std::string& name) { return ovis::test::golden_pipeline_case(name); }

void run_pipeline(const std::string& name) {
  PipelineCase p = pipeline_case(name);
  CHECK_GOLDEN(pack_latents(p.req.noise), p.io.load_f32("initial_latents_packed"), 0.0, name + " packed noise");
  p.req.report_latents = true;
  std::vector<Tensor> steps;
  GenerateResult r = tiny_engine().generate(p.req, [&](const StepInfo& s) {
    CHECK(s.latents && s.step == int(steps.size()) + 1 && s.steps == int(p.req.sigmas.size()) - 1);
    CHECK(s.sigma == p.req.sigmas[size_t(s.step - 1)]);
    steps.push_back(*s.latents);
  });
  CHECK(steps.size() == p.req.sigmas.size() - 1);
  for (size_t i = 0; i < steps.size(); ++i)
    CHECK_GOLDEN(steps[i], p.io.load_f32("latents_step" + std::to_string(i)), 1e-4,
                 name + " latents step " + std::to_string(i));
  CHECK_GOLDEN(r.latents, p.io.load_f32("final_latents_packed"), 1e-4, name + " final latents");
  CHECK(r.negative_embeds.defined() == (p.req.guidance > 1.0f));
  CHECK(r.image.shape == Shape({1, 3, p.height, p.width}));
  const ovis::test::ImageDiff d = ovis::test::compare_image(r.image, p.io.load_f32("image"));
  std::printf("       %-40s max |diff| %.3g, %lld of %lld beyond 1/255\n", (name + " image").c_str(), d.max_abs,
              (long long)d.beyond_1_255, (long long)d.total);
  CHECK_MSG(d.beyond_1_255 <= d.total / 1000,
            name << " image: " << d.beyond_1_255 << " values differ by more than 1/255");
}

}  // namespace

TEST(golden_transformer) {
  for (const char* c : {"t1", "t2"}) {
    SafetensorsFile io = golden(std::string("transformer/") + c + "/io.safetensors");
    Tensor out = tiny_engine().dit_forward(io.load_f32("hidden_states"), io.load_f32("encoder_hidden_states"),
                                           io.load_f32("timestep"), io.load_f32("img_ids"), io.load_f32("txt_ids"));
    CHECK_GOLDEN(out, io.load_f32("output"), 1e-5, std::string("transformer ") + c);
  }
}

TEST(golden_vae_decode_encode) {
  for (const char* c : {"v1", "v2"}) {
    SafetensorsFile io = golden(std::string("vae/") + c + "/io.safetensors");
    CHECK_GOLDEN(tiny_engine().vae_decode(io.load_f32("latent")), io.load_f32("decoded"), 1e-5,
                 std::string("vae decode ") + c);
    Tensor mean, logvar;
    tiny_engine().vae_encode(io.load_f32("image"), &mean, &logvar);
    CHECK_GOLDEN(mean, io.load_f32("encoded_mean"), 1e-5, std::string("vae encode mean ") + c);
    CHECK_GOLDEN(logvar, io.load_f32("encoded_logvar"), 1e-5, std::string("vae encode logvar ") + c);
  }
}

TEST(golden_text_encoder) {
  SafetensorsFile io = golden("text_encoder/io.safetensors");
  for (int i = 0; i < 3; ++i) {
    const std::string s = std::to_string(i);
    Tensor h =
        tiny_engine().encode_text(as_i32(io.load_f32("input_ids_" + s)), as_i32(io.load_f32("attention_mask_" + s)));
    CHECK_GOLDEN(h, io.load_f32("last_hidden_state_" + s), 1e-5, "text encoder case " + s);
  }
}

// generate() encodes ids itself: its prompt embeddings (hidden * mask, prefix dropped) must match
// the reference's, for the prompt and the negative prompt.
TEST(golden_generate_prompt_embeds) {
  SafetensorsFile io = golden("text_encoder/io.safetensors");
  GenerateRequest req;
  req.ids = as_i32(io.load_f32("input_ids_0"));
  req.mask = as_i32(io.load_f32("attention_mask_0"));
  req.neg_ids = as_i32(io.load_f32("input_ids_2"));
  req.neg_mask = as_i32(io.load_f32("attention_mask_2"));
  req.noise = ovis_test::random_tensor({1, 16, 2, 2}, DType::F32, 7);
  req.sigmas = {1.0f, 0.0f};
  req.guidance = 2.0f;
  GenerateResult r = tiny_engine().generate(req, nullptr);
  CHECK_GOLDEN(r.prompt_embeds, io.load_f32("prompt_embeds_0"), 1e-5, "generate prompt embeds (case 0)");
  CHECK_GOLDEN(r.negative_embeds, io.load_f32("prompt_embeds_2"), 1e-5, "generate negative embeds (case 2)");
  CHECK(r.image.shape == Shape({1, 3, 16, 16}));
  // Without guidance the negative prompt is not encoded.
  req.guidance = 1.0f;
  req.neg_ids = Tensor{};
  GenerateResult r1 = tiny_engine().generate(req, nullptr);
  CHECK(!r1.negative_embeds.defined());
}

TEST(golden_pipeline_p1) { run_pipeline("p1"); }
TEST(golden_pipeline_p2) { run_pipeline("p2"); }
TEST(golden_pipeline_p3) { run_pipeline("p3"); }

// Weights converted to f32 while assembling (the multi-piece/conversion path) give the same answers.
TEST(golden_transformer_f32_weights) {
  WeightPlan plan = tiny_plan();
  for (PlanTensor& t : plan.tensors) t.dtype = DType::F32;
  Engine engine(plan, EngineOptions{});
  SafetensorsFile io = golden("transformer/t2/io.safetensors");
  Tensor out = engine.dit_forward(io.load_f32("hidden_states"), io.load_f32("encoder_hidden_states"),
                                  io.load_f32("timestep"), io.load_f32("img_ids"), io.load_f32("txt_ids"));
  CHECK_GOLDEN(out, io.load_f32("output"), 1e-5, "transformer t2 with f32 weights");
}

TEST(engine_cancel_then_usable) {
  PipelineCase p = pipeline_case("p2");
  CancelFlag cancel{false};
  int seen = 0;
  CHECK_THROWS_CODE(tiny_engine().generate(
                        p.req,
                        [&](const StepInfo&) {
                          ++seen;
                          cancel = true;
                        },
                        &cancel),
                    "ABORT_ERR");
  CHECK(seen == 1);
  cancel = true;
  CHECK_THROWS_CODE(
      tiny_engine().encode_text(as_i32(golden("text_encoder/io.safetensors").load_f32("input_ids_0")),
                                as_i32(golden("text_encoder/io.safetensors").load_f32("attention_mask_0")), &cancel),
      "ABORT_ERR");
  cancel = false;
  GenerateResult r = tiny_engine().generate(p.req, nullptr, &cancel);
  CHECK_GOLDEN(r.latents, p.io.load_f32("final_latents_packed"), 1e-4, "p2 after a cancelled run");
}

TEST(engine_bad_arguments) {
  Engine& e = tiny_engine();
  auto expect = [](const std::function<void()>& f, const std::string& needle) {
    try {
      f();
    } catch (const Error& err) {
      CHECK_MSG(err.code() == "OVIS_BAD_ARGUMENT", "code " << err.code() << ": " << err.what());
      CHECK_MSG(std::string(err.what()).find(needle) != std::string::npos,
                "'" << err.what() << "' lacks '" << needle << "'");
      return;
    }
    CHECK_MSG(false, "no error (expected one mentioning '" << needle << "')");
  };
  Tensor x = host_f32({1, 4, 64}), ctx = host_f32({1, 3, 16}), t = host_f32({1});
  Tensor img_ids = host_f32({4, 3}), txt_ids = host_f32({3, 3});
  for (Tensor* z : {&x, &ctx, &t, &img_ids, &txt_ids}) std::fill(z->ptr<float>(), z->ptr<float>() + z->numel(), 0.5f);
  e.dit_forward(x, ctx, t, img_ids, txt_ids);  // valid
  expect([&] { e.dit_forward(host_f32({1, 4, 63}), ctx, t, img_ids, txt_ids); }, "[B, L, 64]");
  expect([&] { e.dit_forward(x, host_f32({1, 3, 15}), t, img_ids, txt_ids); }, "[1, T, 16]");
  expect([&] { e.dit_forward(x, ctx, host_f32({2}), img_ids, txt_ids); }, "[1]");
  expect([&] { e.dit_forward(x, ctx, t, host_f32({5, 3}), txt_ids); }, "[4, 3]");
  expect([&] { e.dit_forward(x, ctx, t, img_ids, host_f32({3, 2})); }, "[3, 3]");
  expect([&] { e.vae_decode(host_f32({1, 15, 4, 4})); }, "[B, 16, h, w]");
  expect([&] { e.vae_encode(host_f32({1, 4, 16, 16}), nullptr, nullptr); }, "[B, 3, H, W]");
  expect([&] { e.vae_encode(host_f32({1, 3, 12, 16}), nullptr, nullptr); }, "multiples of 8");
  Tensor ids = host_alloc({1, 30}, DType::I32), mask = host_alloc({1, 30}, DType::I32);
  for (int i = 0; i < 30; ++i) ids.ptr<int32_t>()[i] = 100 + i, mask.ptr<int32_t>()[i] = 1;
  expect([&] { e.encode_text(ids, host_alloc({1, 29}, DType::I32)); }, "[1, 30]");
  Tensor bad_ids = host_alloc({1, 30}, DType::I32);
  std::fill(bad_ids.ptr<int32_t>(), bad_ids.ptr<int32_t>() + 30, 151936);
  expect([&] { e.encode_text(bad_ids, mask); }, "[0, 151936)");
  expect([&] { e.encode_text(host_f32({1, 30}), mask); }, "must be i32");
  GenerateRequest req;
  req.ids = ids, req.mask = mask, req.guidance = 1.0f, req.sigmas = {1.0f, 0.0f};
  req.noise = host_f32({1, 16, 3, 4});
  expect([&] { e.generate(req, nullptr); }, "[B, 16, H/8, W/8]");
  req.noise = ovis_test::random_tensor({1, 16, 2, 2}, DType::F32, 3);
  req.sigmas = {1.0f};
  expect([&] { e.generate(req, nullptr); }, "steps + 1");
  req.sigmas = {1.0f, 0.0f};
  req.guidance = 3.0f;  // needs a negative prompt
  expect([&] { e.generate(req, nullptr); }, "negative prompt ids");
  req.guidance = 1.0f;
  req.drop_prefix = 30;
  expect([&] { e.generate(req, nullptr); }, "drop_prefix");
}

TEST(engine_missing_tensor_is_named) {
  WeightPlan plan = tiny_plan();
  for (const char* name :
       {"dit.double.1.txt.k_norm.weight", "te.layers.1.mlp_out.weight", "vae.dec.up.2.upsample.bias"}) {
    WeightPlan p = plan;
    p.tensors.erase(
        std::remove_if(p.tensors.begin(), p.tensors.end(), [&](const PlanTensor& t) { return t.name == name; }),
        p.tensors.end());
    try {
      Engine e(p, EngineOptions{});
      CHECK_MSG(false, "no error without " << name);
    } catch (const Error& err) {
      CHECK(err.code() == "OVIS_BAD_WEIGHTS");
      CHECK_MSG(std::string(err.what()).find(name) != std::string::npos, err.what());
    }
  }
  // A tensor of the wrong shape for the config.
  WeightPlan p = plan;
  p.dit.mlp_hidden = 2 * p.dit.mlp_hidden;
  CHECK_THROWS_CODE(Engine(p, EngineOptions{}), "OVIS_BAD_WEIGHTS");
  // Without encoder tensors the engine still decodes, and encoding says what is missing.
  p = plan;
  p.tensors.erase(std::remove_if(p.tensors.begin(), p.tensors.end(),
                                 [](const PlanTensor& t) { return t.name.rfind("vae.enc.", 0) == 0; }),
                  p.tensors.end());
  Engine decode_only(p, EngineOptions{});
  Tensor z = host_f32({1, 16, 1, 1}), image = host_f32({1, 3, 8, 8});  // uninitialised: fill them
  std::fill(z.ptr<float>(), z.ptr<float>() + z.numel(), 0.25f);
  std::fill(image.ptr<float>(), image.ptr<float>() + image.numel(), 0.5f);
  CHECK(decode_only.vae_decode(z).shape == Shape({1, 3, 8, 8}));
  CHECK_THROWS_CODE(decode_only.vae_encode(image, nullptr, nullptr), "OVIS_BAD_WEIGHTS");
}
