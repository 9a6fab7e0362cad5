// CPU benchmark: one MMDiT forward on a mid-size random model, one VAE decode and one text encoding
// (Qwen3 layers at the released width), through the real engine (plan -> mmap -> CPU backend). bench/run-cpu.sh runs it
// beside bench/torch_reference.py.
//
// Wall time and process CPU time (all threads; steadier on a shared machine) are both reported.
// Usage: see kUsage (bench_cpu_model --help).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "cpu/gemm/gemm_bf16.h"
#include "engine.h"
#include "random_model.h"
#include "temp_file.h"

using namespace ovis;

namespace {

const char* const kUsage =
    "usage: bench_cpu_model [--threads N] [--runs R] [--stages mmdit,vae,text] [--dim 1024] [--heads 8] [--double 2]\n"
    "                       [--single 4] [--img 1024] [--txt 256] [--vae-size 512] [--vae-channels 32,64,128,128]\n"
    "                       [--text-layers 4] [--text-tokens 284] [--text-batch 2] [--precision fp32|bf16] [--json]\n"
    "  --stages: default mmdit,vae; text: Qwen3 layers of the released width (hidden 2048, 16/8 heads x 128,\n"
    "            MLP 6144), causal, every token visible\n"
    "  --precision bf16: bf16 linear layers and attention products where the CPU has AVX512-BF16\n";

struct Args {
  int threads = 0, runs = 3, dim = 1024, heads = 8, n_double = 2, n_single = 4, img = 1024, txt = 256;
  int vae_size = 512, text_layers = 4, text_tokens = 284, text_batch = 2;
  std::vector<int> vae_channels{32, 64, 128, 128};
  bool json = false, mmdit = true, vae = true, text = false;
  std::string precision = "fp32";
};

std::vector<int> parse_list(const char* s) {
  std::vector<int> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(std::atoi(item.c_str()));
  return out;
}

Args parse_args(int argc, char** argv) {
  Args a;
  // The integer options, each with the field it sets.
  const std::pair<const char*, int*> ints[] = {
      {"--threads", &a.threads},
      {"--runs", &a.runs},
      {"--dim", &a.dim},
      {"--heads", &a.heads},
      {"--double", &a.n_double},
      {"--single", &a.n_single},
      {"--img", &a.img},
      {"--txt", &a.txt},
      {"--vae-size", &a.vae_size},
      {"--text-layers", &a.text_layers},
      {"--text-tokens", &a.text_tokens},
      {"--text-batch", &a.text_batch},
  };
  for (int i = 1; i < argc; ++i) {
    auto is = [&](const char* name) { return std::strcmp(argv[i], name) == 0 && i + 1 < argc; };
    int* field = nullptr;
    for (const auto& [name, f] : ints)
      if (is(name)) field = f;
    if (field)
      *field = std::atoi(argv[++i]);
    else if (is("--vae-channels"))
      a.vae_channels = parse_list(argv[++i]);
    else if (is("--precision"))
      a.precision = argv[++i];
    else if (is("--stages")) {
      const std::string st = argv[++i];
      a.mmdit = st.find("mmdit") != std::string::npos;
      a.vae = st.find("vae") != std::string::npos;
      a.text = st.find("text") != std::string::npos;
    } else if (std::strcmp(argv[i], "--json") == 0)
      a.json = true;
    else if (std::strcmp(argv[i], "--help") == 0) {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else {
      std::fprintf(stderr, "unknown argument %s\n%s", argv[i], kUsage);
      std::exit(2);
    }
  }
  if (a.precision != "fp32" && a.precision != "bf16") {
    std::fprintf(stderr, "--precision must be fp32 or bf16\n%s", kUsage);
    std::exit(2);
  }
  return a;
}

// CPU time of all the process's threads (the pool's workers sleep between jobs): on a shared, loaded
// machine it measures the work done where wall time also measures the neighbours.
double process_cpu_ms() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

struct Timing {
  double wall_ms = -1, cpu_ms = -1;  // medians over the runs
};

template <class F>
Timing median_ms(int runs, F&& fn) {
  fn();  // warm-up
  std::vector<double> ms, cpu;
  for (int r = 0; r < runs; ++r) {
    const double c0 = process_cpu_ms();
    auto t0 = std::chrono::steady_clock::now();
    fn();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    cpu.push_back(process_cpu_ms() - c0);
  }
  std::sort(ms.begin(), ms.end());
  std::sort(cpu.begin(), cpu.end());
  return {ms[ms.size() / 2], cpu[cpu.size() / 2]};
}

Tensor random_host(const Shape& s, std::mt19937& rng) {
  Tensor t = host_f32(s);
  std::normal_distribution<float> n(0.f, 1.f);
  for (int64_t i = 0; i < t.numel(); ++i) t.ptr<float>()[i] = n(rng);
  return t;
}

// Linear-layer FLOPs of one MMDiT forward (2 per multiply-add) plus attention (QK^T and PV).
double mmdit_flops(const DitConfig& c, int img, int txt) {
  const double D = c.dim(), F = c.mlp_hidden, S = img + txt;
  const double per_double = 2.0 * S * (3 * D * D + D * D + 3 * D * F);  // qkv, proj, mlp (in 2F + out F)
  const double per_single = 2.0 * S * (D * (3 * D + 2 * F) + (D + F) * D);
  const double attn = 4.0 * S * S * D;
  return c.num_double * (per_double + attn) + c.num_single * (per_single + attn);
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse_args(argc, argv);
  try {
    bench::RandomModelSpec spec;
    spec.dit = a.mmdit;
    spec.vae = a.vae;
    spec.text = a.text;
    spec.text_config.layers = a.text_layers;
    spec.text_config.vocab = 4096;  // the lookup costs nothing; a full vocabulary only slows the file's writing
    auto& d = spec.dit_config;
    d.num_heads = a.heads;
    d.head_dim = a.dim / a.heads;
    d.num_double = a.n_double;
    d.num_single = a.n_single;
    d.mlp_hidden = 4 * a.dim;
    d.axes_dims = {d.head_dim / 8, d.head_dim * 7 / 16, d.head_dim * 7 / 16};
    spec.vae_config.block_out_channels = a.vae_channels;
    // A fresh file per process, so two benchmarks running at once never share (or delete) one.
    const bench::TempFile file("ovis-bench-cpu-model");
    WeightPlan plan = bench::write_random_model(file.path(), spec);

    EngineOptions opts;
    opts.backend.device = "cpu";
    opts.backend.threads = a.threads;
    opts.backend.cpu_bf16 = a.precision == "bf16";
    const bool bf16_active = opts.backend.cpu_bf16 && cpu::gemm_bf16_available();
    if (opts.backend.cpu_bf16 && !bf16_active) std::fprintf(stderr, "note: no AVX512-BF16 here: bf16 runs in f32\n");
    const char* precision = bf16_active ? "bf16" : "fp32";
    Engine engine(plan, opts);

    std::mt19937 rng(7);
    Timing dit, vae, text;
    double gflops = 0;
    if (a.mmdit) {
      const int side = int(std::lround(std::sqrt(double(a.img))));
      Tensor x = random_host(Shape{1, a.img, 64}, rng);
      Tensor ctx = random_host(Shape{1, a.txt, d.context_dim}, rng);
      Tensor t = host_f32(Shape{1});
      t.ptr<float>()[0] = 0.7f;
      Tensor img_ids = host_f32(Shape{a.img, 3});
      for (int i = 0; i < a.img; ++i) {
        img_ids.ptr<float>()[i * 3 + 0] = 0;
        img_ids.ptr<float>()[i * 3 + 1] = float(i / side);
        img_ids.ptr<float>()[i * 3 + 2] = float(i % side);
      }
      Tensor txt_ids = host_f32(Shape{a.txt, 3});
      std::fill(txt_ids.ptr<float>(), txt_ids.ptr<float>() + txt_ids.numel(), 0.f);
      dit = median_ms(a.runs, [&] { engine.dit_forward(x, ctx, t, img_ids, txt_ids); });
      gflops = mmdit_flops(d, a.img, a.txt) / (dit.wall_ms * 1e6);
    }
    if (a.vae) {
      Tensor z = random_host(Shape{1, 16, a.vae_size / 8, a.vae_size / 8}, rng);
      vae = median_ms(a.runs, [&] { engine.vae_decode(z); });
    }

    if (a.text) {
      Tensor ids = host_alloc(Shape{a.text_batch, a.text_tokens}, DType::I32);
      Tensor mask = host_alloc(Shape{a.text_batch, a.text_tokens}, DType::I32);
      for (int64_t i = 0; i < ids.numel(); ++i) {
        ids.ptr<int32_t>()[i] = int32_t(rng() % 4096);
        mask.ptr<int32_t>()[i] = 1;
      }
      text = median_ms(a.runs, [&] { engine.encode_text(ids, mask); });
    }

    if (a.json) {
      std::printf("{\"impl\": \"ovis-image cpu\", \"threads\": %d, \"precision\": \"%s\"", a.threads, precision);
      if (a.mmdit)
        std::printf(", \"mmdit_ms\": %.1f, \"mmdit_gflops\": %.1f, \"mmdit_cpu_ms\": %.1f", dit.wall_ms, gflops,
                    dit.cpu_ms);
      if (a.vae) std::printf(", \"vae_ms\": %.1f, \"vae_cpu_ms\": %.1f", vae.wall_ms, vae.cpu_ms);
      if (a.text) std::printf(", \"text_ms\": %.1f, \"text_cpu_ms\": %.1f", text.wall_ms, text.cpu_ms);
      std::printf("}\n");
    } else {
      std::printf("| stage | median ms | GFLOP/s | CPU ms (all threads) |\n|---|---|---|---|\n");
      if (a.mmdit)
        std::printf("| MMDiT forward (D=%d, %d+%d blocks, %d+%d tokens, %s) | %.1f | %.1f | %.1f |\n", a.dim,
                    a.n_double, a.n_single, a.img, a.txt, precision, dit.wall_ms, gflops, dit.cpu_ms);
      if (a.vae) std::printf("| VAE decode %dx%d | %.1f | | %.1f |\n", a.vae_size, a.vae_size, vae.wall_ms, vae.cpu_ms);
      if (a.text)
        std::printf("| text encoder (%d Qwen3 layers, %d x %d tokens) | %.1f | | %.1f |\n", a.text_layers, a.text_batch,
                    a.text_tokens, text.wall_ms, text.cpu_ms);
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "error [%s]: %s\n", e.code().c_str(), e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
