// Whole-model parity on the CUDA backend: the golden tiny model's MMDiT (transformer t1, t2), VAE
// (v1, v2 decode and encode), Qwen3 (text_encoder cases 0-2), generate()'s own prompt encoding and the
// full pipeline p1..p3 from the golden initial noise, against the reference answers
// (test/fixtures/golden). Each runs in both CUDA modes:
//   fp32: the CPU golden bounds (modules <= 1e-5 rel, latents <= 1e-4, image within 1/255 on 99.9%);
//   bf16: modules and latents <= 3e-2 rel of the (fp32) reference, image <= 3e-2 rel.
// Every figure is printed, passing or not, so that the bounds can be judged from one run's log.
// `ovis_cuda_tests --device cpu cuda_golden` runs them on the CPU backend: a check of the tests themselves.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cuda_test_options.h"
#include "engine.h"
#include "model/sampler.h"
#include "tests/golden_cases.h"
#include "tests/golden_plan.h"
#include "tests/testing.h"

using namespace ovis;
using ovis::test::SafetensorsFile;

namespace {

struct Bounds {
  double module, latents, image_rel;
};
// The module bound for fp32 matches the CPU golden tests; the latents one covers the whole loop.
constexpr Bounds kFp32{1e-5, 1e-4, 0};  // image: the 1/255 rule instead of a relative bound
constexpr Bounds kBf16{3e-2, 3e-2, 3e-2};

const char* mode_name(bool fp32) { return fp32 ? "fp32" : "bf16"; }
const Bounds& bounds(bool fp32) { return fp32 ? kFp32 : kBf16; }

const WeightPlan& tiny_plan() {
  static const WeightPlan plan = parse_plan(format_plan(ovis::test::golden_tiny_plan()));
  return plan;
}

// One engine per mode, made on first use (weights uploaded once for all the tests of that mode).
Engine& cuda_engine(bool fp32) {
  static std::unique_ptr<Engine> engines[2];
  std::unique_ptr<Engine>& e = engines[fp32 ? 1 : 0];
  if (!e) {
    EngineOptions o;
    o.backend.device = ovis_cuda_test::options().device;  // "cuda" unless --device cpu
    o.backend.fp32 = fp32;
    e.reset(new Engine(tiny_plan(), o));
    // A CPU fallback here would make every parity figure meaningless.
    CHECK_MSG(e->backend_name().rfind(o.backend.device, 0) == 0, "engine runs on " << e->backend_name());
    std::printf("       engine on %s (%s)\n", e->backend_name().c_str(), mode_name(fp32));
  }
  return *e;
}

double rel(const Tensor& out, const Tensor& ref) {
  CHECK_MSG(out.shape == ref.shape, "shape " << out.shape.str() << " vs reference " << ref.shape.str());
  return ovis_test::rel_err(out, ovis_test::to_f64(ref));
}

// Prints the figure, then checks it (NaN gives +inf and fails).
void check_rel(const Tensor& out, const Tensor& ref, double tol, const std::string& what) {
  const double e = rel(out, ref);
  std::printf("       %-44s rel err %.3g (tol %.0e)\n", what.c_str(), e, tol);
  CHECK_MSG(e <= tol, what << ": rel err " << e << " > " << tol);
}

void transformer(bool fp32) {
  Engine& eng = cuda_engine(fp32);
  for (const char* c : {"t1", "t2"}) {
    SafetensorsFile io = ovis::test::golden_file(std::string("transformer/") + c + "/io.safetensors");
    Tensor out = eng.dit_forward(io.load_f32("hidden_states"), io.load_f32("encoder_hidden_states"),
                                 io.load_f32("timestep"), io.load_f32("img_ids"), io.load_f32("txt_ids"));
    check_rel(out, io.load_f32("output"), bounds(fp32).module, std::string(mode_name(fp32)) + " transformer " + c);
  }
}

void vae(bool fp32) {
  Engine& eng = cuda_engine(fp32);
  const std::string m = mode_name(fp32);
  for (const char* c : {"v1", "v2"}) {
    SafetensorsFile io = ovis::test::golden_file(std::string("vae/") + c + "/io.safetensors");
    check_rel(eng.vae_decode(io.load_f32("latent")), io.load_f32("decoded"), bounds(fp32).module,
              m + " vae decode " + c);
    Tensor mean, logvar;
    eng.vae_encode(io.load_f32("image"), &mean, &logvar);
    check_rel(mean, io.load_f32("encoded_mean"), bounds(fp32).module, m + " vae encode mean " + c);
    check_rel(logvar, io.load_f32("encoded_logvar"), bounds(fp32).module, m + " vae encode logvar " + c);
  }
}

void text_encoder(bool fp32) {
  Engine& eng = cuda_engine(fp32);
  SafetensorsFile io = ovis::test::golden_file("text_encoder/io.safetensors");
  for (int i = 0; i < 3; ++i) {
    const std::string s = std::to_string(i);
    Tensor h = eng.encode_text(ovis::test::ids_as_i32(io.load_f32("input_ids_" + s)),
                               ovis::test::ids_as_i32(io.load_f32("attention_mask_" + s)));
    check_rel(h, io.load_f32("last_hidden_state_" + s), bounds(fp32).module,
              std::string(mode_name(fp32)) + " text encoder case " + s);
  }
}

// generate() encoding the ids itself (masking, prefix drop, CFG's negative prompt). Twice: on a device
// backend the text encoder's weights may be released after encoding and re-uploaded for the next call.
void generate_prompt_embeds(bool fp32) {
  Engine& eng = cuda_engine(fp32);
  SafetensorsFile io = ovis::test::golden_file("text_encoder/io.safetensors");
  GenerateRequest req;
  req.ids = ovis::test::ids_as_i32(io.load_f32("input_ids_0"));
  req.mask = ovis::test::ids_as_i32(io.load_f32("attention_mask_0"));
  req.neg_ids = ovis::test::ids_as_i32(io.load_f32("input_ids_2"));
  req.neg_mask = ovis::test::ids_as_i32(io.load_f32("attention_mask_2"));
  req.noise = ovis_test::random_tensor({1, 16, 2, 2}, DType::F32, 7);
  req.sigmas = {1.0f, 0.0f};
  req.guidance = 2.0f;
  const std::string m = mode_name(fp32);
  for (int round = 1; round <= 2; ++round) {
    GenerateResult r = eng.generate(req, nullptr);
    const std::string tag = m + " generate (call " + std::to_string(round) + ")";
    check_rel(r.prompt_embeds, io.load_f32("prompt_embeds_0"), bounds(fp32).module, tag + " prompt embeds");
    check_rel(r.negative_embeds, io.load_f32("prompt_embeds_2"), bounds(fp32).module, tag + " negative embeds");
    CHECK(r.image.shape == Shape({1, 3, 16, 16}));
  }
}

GenerateResult run_case(Engine& eng, ovis::test::GoldenPipelineCase& p, std::vector<Tensor>* steps) {
  p.req.report_latents = steps != nullptr;
  return eng.generate(p.req, [&](const StepInfo& s) {
    if (!steps) return;
    CHECK(s.latents && s.step == int(steps->size()) + 1 && s.steps == int(p.req.sigmas.size()) - 1);
    steps->push_back(*s.latents);
  });
}

void pipeline(bool fp32, const std::string& name) {
  Engine& eng = cuda_engine(fp32);
  ovis::test::GoldenPipelineCase p = ovis::test::golden_pipeline_case(name);
  const std::string m = std::string(mode_name(fp32)) + " " + name;
  std::vector<Tensor> steps;
  GenerateResult r = run_case(eng, p, &steps);
  CHECK(steps.size() == p.req.sigmas.size() - 1);
  // Every step is printed; fp32 checks each against the latents bound, bf16 only the final latents
  // (its error grows along the loop: the final figure is the one that matters).
  for (size_t i = 0; i < steps.size(); ++i) {
    const Tensor ref = p.io.load_f32("latents_step" + std::to_string(i));
    const std::string what = m + " latents step " + std::to_string(i);
    if (fp32) {
      check_rel(steps[i], ref, bounds(fp32).latents, what);
    } else {
      std::printf("       %-44s rel err %.3g\n", what.c_str(), rel(steps[i], ref));
    }
  }
  check_rel(r.latents, p.io.load_f32("final_latents_packed"), bounds(fp32).latents, m + " final latents");
  CHECK(r.negative_embeds.defined() == (p.req.guidance > 1.0f));
  CHECK(r.image.shape == Shape({1, 3, p.height, p.width}));
  const ovis::test::ImageDiff d = ovis::test::compare_image(r.image, p.io.load_f32("image"));
  std::printf("       %-44s rel err %.3g, max |diff| %.3g, %lld of %lld beyond 1/255\n", (m + " image").c_str(), d.rel,
              d.max_abs, (long long)d.beyond_1_255, (long long)d.total);
  if (fp32) {
    CHECK_MSG(d.beyond_1_255 <= d.total / 1000,
              m << " image: " << d.beyond_1_255 << " values differ by more than 1/255");
  } else {
    CHECK_MSG(d.rel <= bounds(fp32).image_rel, m << " image: rel err " << d.rel << " > " << bounds(fp32).image_rel);
  }
  // Same request again: the engine's buffers are reused between runs, the answer must not change.
  GenerateResult again = run_case(eng, p, nullptr);
  const double e = ovis_test::rel_err(again.latents, ovis_test::to_f64(r.latents));
  std::printf("       %-44s rel err %.3g\n", (m + " rerun vs first run").c_str(), e);
  CHECK_MSG(e <= 1e-6, m << ": a second run differs from the first by " << e);
}

// A run cancelled after its first step leaves the engine usable and its next run correct.
void cancel_then_usable(bool fp32) {
  Engine& eng = cuda_engine(fp32);
  ovis::test::GoldenPipelineCase p = ovis::test::golden_pipeline_case("p2");
  CancelFlag cancel{false};
  int seen = 0;
  CHECK_THROWS_CODE(eng.generate(
                        p.req,
                        [&](const StepInfo&) {
                          ++seen;
                          cancel = true;
                        },
                        &cancel),
                    "ABORT_ERR");
  CHECK(seen == 1);
  cancel = false;
  GenerateResult r = eng.generate(p.req, nullptr, &cancel);
  check_rel(r.latents, p.io.load_f32("final_latents_packed"), bounds(fp32).latents,
            std::string(mode_name(fp32)) + " p2 after a cancelled run");
}

}  // namespace

#define CUDA_GOLDEN_TESTS(mode, fp32)                                                 \
  TEST(cuda_golden_##mode##_transformer) { transformer(fp32); }                       \
  TEST(cuda_golden_##mode##_vae) { vae(fp32); }                                       \
  TEST(cuda_golden_##mode##_text_encoder) { text_encoder(fp32); }                     \
  TEST(cuda_golden_##mode##_generate_prompt_embeds) { generate_prompt_embeds(fp32); } \
  TEST(cuda_golden_##mode##_pipeline_p1) { pipeline(fp32, "p1"); }                    \
  TEST(cuda_golden_##mode##_pipeline_p2) { pipeline(fp32, "p2"); }                    \
  TEST(cuda_golden_##mode##_pipeline_p3) { pipeline(fp32, "p3"); }                    \
  TEST(cuda_golden_##mode##_cancel_then_usable) { cancel_then_usable(fp32); }

CUDA_GOLDEN_TESTS(fp32, true)
CUDA_GOLDEN_TESTS(bf16, false)
