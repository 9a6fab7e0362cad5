// ovis_bench_gpu: the real engine (ovis::Engine on the CUDA backend) with full-size Ovis-Image networks
// whose random bf16 weights are made on the GPU (device_random_weights.h; no checkpoint needed).
// Per size it times, after a warm-up, with a sync + steady_clock (medians of --iters runs; the engine's
// calls take and return host tensors, so those small copies are included):
//   text encoding (prompt + negative, 2 x 284 tokens), one MMDiT forward at --batch (2 = CFG),
//   VAE decode, and one whole Engine::generate (--steps, CFG --guidance) with its own stage split.
// It reports achieved TFLOP/s of the MMDiT (FLOPs as in docs/MODEL.md "Cost") and device memory: the
// allocator's high-water mark per stage (cuda/device_allocator.h) and cudaMemGetInfo.
//
// Usage: ovis_bench_gpu [--size N | --size WxH]... [--batch B] [--iters N] [--steps N] [--guidance G]
//                       [--keep-text] [--no-text] [--no-loop] [--fp32] [--all]
//   default: --size 1024 --batch 2 --iters 3 --steps 50 --guidance 5; the text encoder is released after
//   encoding (the engine's device default) unless --keep-text.
//   --all: 1024² batch 2, 768², 1024x1536 (W x H), and 1024² batch 4.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/backend.h"
#include "cost_model.h"
#include "model/schedule.h"
#include "core/error.h"
#include "cuda_backend.h"
#include "cuda_check.h"
#include "device_random_weights.h"
#include "engine.h"
#include "io/weights.h"
#include "model/sampler.h"

using namespace ovis;
using ovis::cuda::CudaBackend;

namespace {

using Clock = std::chrono::steady_clock;

struct Case {
  int64_t w = 1024, h = 1024, batch = 2;
};

struct Args {
  std::vector<Case> cases;
  int64_t batch = 2;
  int iters = 3, steps = 50;
  float guidance = 5.0f;
  bool keep_text = false, text = true, loop = true, fp32 = false, all = false;
};

Case parse_size(const std::string& s, int64_t batch) {
  Case c;
  c.batch = batch;
  const auto x = s.find('x');
  if (x == std::string::npos) {
    c.w = c.h = std::atoll(s.c_str());
  } else {
    c.w = std::atoll(s.substr(0, x).c_str());
    c.h = std::atoll(s.substr(x + 1).c_str());
  }
  if (c.w <= 0 || c.h <= 0 || c.w % 16 || c.h % 16)
    fail("OVIS_BAD_ARGUMENT", "--size " + s + ": W and H must be positive multiples of 16");
  return c;
}

Args parse_args(int argc, char** argv) {
  Args a;
  std::vector<std::string> sizes;
  for (int i = 1; i < argc; ++i) {
    const std::string o = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) fail("OVIS_BAD_ARGUMENT", o + " needs a value");
      return argv[++i];
    };
    if (o == "--size")
      sizes.push_back(next());
    else if (o == "--batch")
      a.batch = std::atoll(next().c_str());
    else if (o == "--iters")
      a.iters = std::atoi(next().c_str());
    else if (o == "--steps")
      a.steps = std::atoi(next().c_str());
    else if (o == "--guidance")
      a.guidance = float(std::atof(next().c_str()));
    else if (o == "--keep-text")
      a.keep_text = true;
    else if (o == "--no-text")
      a.text = false;
    else if (o == "--no-loop")
      a.loop = false;
    else if (o == "--fp32")
      a.fp32 = true;
    else if (o == "--all")
      a.all = true;
    else
      fail("OVIS_BAD_ARGUMENT", "unknown option " + o + " (see the comment at the top of bench_gpu.cpp)");
  }
  if (a.batch < 1 || a.iters < 1 || a.steps < 1) fail("OVIS_BAD_ARGUMENT", "--batch, --iters and --steps must be >= 1");
  if (!std::isfinite(a.guidance)) fail("OVIS_BAD_ARGUMENT", "--guidance must be a number");
  for (const std::string& s : sizes) a.cases.push_back(parse_size(s, a.batch));
  if (a.all) {
    a.cases.push_back({1024, 1024, 2});
    a.cases.push_back({768, 768, 2});
    a.cases.push_back({1024, 1536, 2});
    a.cases.push_back({1024, 1024, 4});
  }
  if (a.cases.empty()) a.cases.push_back(Case{1024, 1024, a.batch});
  return a;
}

// docs/MODEL.md "Cost": per batch row and block, 32·D²·S for the linear layers and 4·S²·D for attention.
double dit_flops(const DitConfig& c, int64_t batch, int64_t S) {
  const double D = c.dim(), s = double(S);
  return double(batch) * (c.num_double + c.num_single) * (32.0 * D * D * s + 4.0 * s * s * D);
}

// docs/MODEL.md "Schedule" (dynamic shift).

Tensor host_normal(const Shape& s, float stddev, uint64_t seed) {
  Tensor t = host_f32(s);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.f, stddev);
  for (int64_t i = 0; i < t.numel(); ++i) t.ptr<float>()[i] = normal(rng);
  return t;
}

// A templated prompt as the tokenizer makes it: 284 ids, `real` of them unmasked, padding after.
void make_prompt(int vocab, int real, uint64_t seed, Tensor* ids, Tensor* mask) {
  const int64_t T = 284;
  *ids = host_alloc({1, T}, DType::I32);
  *mask = host_alloc({1, T}, DType::I32);
  std::mt19937_64 rng(seed);
  for (int64_t i = 0; i < T; ++i) {
    ids->ptr<int32_t>()[i] = i < real ? int32_t(rng() % uint64_t(vocab)) : 151643;
    mask->ptr<int32_t>()[i] = i < real ? 1 : 0;
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// One warm-up call (allocator cache, cuBLASLt plans), then the median of `iters` timed calls.
double time_median_ms(Backend& be, int iters, const std::function<void()>& f) {
  f();
  be.sync();
  std::vector<double> ms;
  for (int i = 0; i < iters; ++i) {
    const auto t0 = Clock::now();
    f();
    be.sync();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  return median(ms);
}

std::string sci(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

double mib(size_t bytes) { return double(bytes) / 1048576.0; }

size_t device_used_bytes() {
  size_t free_b = 0, total_b = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  return total_b - free_b;
}

void row(const std::string& what, const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  std::printf("| %-52s | %18s |\n", what.c_str(), buf);
}

// Allocator high-water mark of one stage (reset at its start: weights resident then are included).
struct StagePeak {
  CudaBackend& be;
  explicit StagePeak(CudaBackend& b) : be(b) { be.allocator().reset_peak(); }
  double mib_now() const { return mib(be.allocator().peak()); }
};

void run_case(Engine& engine, CudaBackend& cb, const Args& a, const Case& c) {
  const ModelConfig m = model_config(engine.plan());
  const DitConfig& dc = m.dit;
  const int64_t h8 = c.h / 8, w8 = c.w / 8, L = (c.h / 16) * (c.w / 16), T = 256, S = T + L;
  const int iters = a.iters;
  std::printf(
      "\n### %lldx%lld (W x H), MMDiT batch %lld: %lld image + %lld text tokens; medians of %d after 1 warm-up\n",
      (long long)c.w, (long long)c.h, (long long)c.batch, (long long)L, (long long)T, iters);
  std::printf("| %-52s | %18s |\n| %s | %s |\n", "measure", "value", std::string(52, '-').c_str(),
              std::string(18, '-').c_str());
  const char* text_note = a.keep_text ? "" : ", incl. re-upload of its weights";

  Tensor ids, mask, neg_ids, neg_mask;
  make_prompt(m.text.vocab, 28 + 60, 21, &ids, &mask);
  make_prompt(m.text.vocab, 28 + 8, 22, &neg_ids, &neg_mask);
  double ms_text = 0;
  if (a.text) {
    StagePeak peak(cb);
    ms_text = time_median_ms(cb, iters, [&] {
      engine.encode_text(ids, mask);
      engine.encode_text(neg_ids, neg_mask);
    });
    row(std::string("text encoding, prompt + negative (2 x 284)") + text_note, "%.1f ms", ms_text);
    row("  peak allocated during text encoding", "%.0f MiB", peak.mib_now());
  }

  // One MMDiT forward at the requested batch.
  {
    Tensor x = host_normal({c.batch, L, dc.in_channels}, 1.f, 31);
    Tensor ctx = host_normal({c.batch, T, dc.context_dim}, 0.5f, 32);
    Tensor t = host_f32({c.batch});
    for (int64_t b = 0; b < c.batch; ++b) t.ptr<float>()[b] = 0.7f;
    const int n_axes = int(dc.axes_dims.size());
    Tensor img_ids = image_position_ids(c.h / 16, c.w / 16, n_axes), txt_ids = text_position_ids(T, n_axes);
    StagePeak peak(cb);
    const double ms = time_median_ms(cb, iters, [&] { engine.dit_forward(x, ctx, t, img_ids, txt_ids); });
    const double flops = dit_flops(dc, c.batch, S);
    row("MMDiT forward, batch " + std::to_string(c.batch), "%.1f ms", ms);
    row("  achieved (docs/MODEL.md FLOPs: " + sci(flops) + ")", "%.0f TFLOP/s", flops / (ms * 1e-3) / 1e12);
    row("  peak allocated during the forward", "%.0f MiB", peak.mib_now());
  }

  // VAE decode of one image.
  {
    Tensor z = host_normal({1, m.vae.latent_channels, h8, w8}, 1.f, 41);
    StagePeak peak(cb);
    const double ms = time_median_ms(cb, iters, [&] { engine.vae_decode(z); });
    row("VAE decode, 1 image", "%.1f ms", ms);
    row("  peak allocated during the decode", "%.0f MiB", peak.mib_now());
  }

  // The whole pipeline: Engine::generate (one image, CFG as one batch of 2).
  if (a.loop) {
    GenerateRequest req;
    req.guidance = a.guidance;
    req.noise = host_normal({1, m.vae.latent_channels, h8, w8}, 1.f, 51);
    if (a.text) {
      req.ids = ids, req.mask = mask, req.neg_ids = neg_ids, req.neg_mask = neg_mask;
    } else {
      req.prompt_embeds = host_normal({1, T, dc.context_dim}, 0.5f, 52);
      req.negative_embeds = host_normal({1, T, dc.context_dim}, 0.5f, 53);
    }
    req.sigmas = {1.0f, 0.0f};
    engine.generate(req, nullptr);  // warm-up: batch-2 plans and cached blocks
    req.sigmas = flow_match_sigmas(a.steps, L);
    StagePeak peak(cb);
    const auto t0 = Clock::now();
    GenerateResult r = engine.generate(req, nullptr);
    const double total = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    const bool cfg = a.guidance > 1.0f;
    const double per_step = r.ms_denoise / a.steps;
    const std::string label = "generate, " + std::to_string(a.steps) + " steps" + (cfg ? " CFG" : "");
    row(label + ": text" + (a.text ? text_note : " (precomputed)"), "%.1f ms", r.ms_text);
    row(label + ": denoising loop", "%.1f ms", r.ms_denoise);
    row("  per step (MMDiT batch " + std::string(cfg ? "2" : "1") + ")", "%.1f ms", per_step);
    row("  achieved in the loop", "%.0f TFLOP/s", dit_flops(dc, cfg ? 2 : 1, S) / (per_step * 1e-3) / 1e12);
    row(label + ": VAE decode", "%.1f ms", r.ms_decode);
    row(label + ": total", "%.2f s", total / 1000.0);
    row("  50-step image, EXTRAPOLATED from " + std::to_string(a.steps) + " steps", "%.2f s",
        (r.ms_text + 50 * per_step + r.ms_decode) / 1000.0);
    row("  peak allocated during generate", "%.0f MiB", peak.mib_now());
  }
  row("allocator: in use now", "%.0f MiB", mib(cb.allocator().in_use()));
  row("allocator: reserved (in use + cached)", "%.0f MiB", mib(cb.allocator().reserved()));
  row("cudaMemGetInfo: used on the device (all processes)", "%.0f MiB", mib(device_used_bytes()));
  std::printf("kernel paths so far: %s; slow-path calls: %lld\n", cb.path_counts().c_str(),
              (long long)cb.slow_path_calls());
}

// The cost model's prediction (bench/cuda/cost_model.h) beside the measurements: the whole table for the
// first size, the per-image sum for the others.
void print_predictions(const Args& args) {
  const bench::DeviceRates rates = bench::h100_sxm_datasheet();
  for (size_t i = 0; i < args.cases.size(); ++i) {
    bench::Workload w;
    w.width = args.cases[i].w, w.height = args.cases[i].h, w.batch = args.cases[i].batch;
    w.steps = args.steps;
    w.bytes_per_value = args.fp32 ? 4 : 2;
    if (i == 0) {
      std::printf("%s\n", bench::cost_report(w, rates).c_str());
      continue;
    }
    const bench::Prediction p = bench::predict_image(w, rates);
    std::printf("PREDICTION (cost model) %lldx%lld batch %lld: %.2f s per image (step %.1f ms)\n", (long long)w.width,
                (long long)w.height, (long long)w.batch, p.image_s, p.step_s * 1e3);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  try {
    args = parse_args(argc, argv);
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
  print_predictions(args);
  if (cuda_device_count() == 0) {
    std::printf("no CUDA device: skipped\n");
    return 0;
  }
  try {
    std::unique_ptr<Backend> owned = create_cuda_backend(0, args.fp32);
    auto* cb = dynamic_cast<CudaBackend*>(owned.get());
    if (!cb) fail("OVIS_INTERNAL", "create_cuda_backend did not return a CudaBackend");
    cudaDeviceProp prop{};
    CUDA_CHECK(cudaGetDeviceProperties(&prop, cb->device_index()));
    std::printf("device: %s, %s mode; text encoder %s after encoding\n", prop.name, args.fp32 ? "fp32" : "bf16",
                args.keep_text ? "kept" : "released");
    const size_t used_before = device_used_bytes();

    ModelConfig model;
    model.has_dit = model.has_vae = true;
    model.has_text = args.text;
    const auto t0 = Clock::now();
    bench::DeviceRandomWeights w = bench::make_device_random_weights(*cb, model, args.keep_text ? "" : "te.");
    const double ms_make = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    const int64_t params = w.params;
    const size_t host_copy = w.host_copy_bytes;
    EngineOptions options;
    options.keep_text_encoder = args.keep_text;
    Engine engine(std::move(owned), std::make_unique<WeightStore>(std::move(w.tensors), std::move(w.loaders)), model,
                  options);
    std::printf(
        "weights: %.2fB random bf16 parameters (%.0f MiB allocated) made on the device in %.1f s; "
        "host copy of the text encoder for re-upload: %.0f MiB\n",
        params / 1e9, mib(cb->allocator().in_use()), ms_make / 1000.0, mib(host_copy));
    std::printf("cudaMemGetInfo used: %.0f MiB before, %.0f MiB with the weights\n", mib(used_before),
                mib(device_used_bytes()));
    for (const Case& c : args.cases) run_case(engine, *cb, args, c);
  } catch (const Error& e) {
    std::fprintf(stderr, "ovis_bench_gpu failed: %s: %s\n", e.code().c_str(), e.what());
    return 1;
  }
  return 0;
}
