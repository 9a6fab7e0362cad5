// CPU micro-benchmark: GEMM (linear) GFLOP/s on the MMDiT D=1024 shapes with bf16 and f32 weights,
// attention, conv2d (incl. the VAE decoder's shapes), GroupNorm and upsample. Where the CPU has AVX512-BF16,
// the linear (bf16 weights) and attention rows also run with precision bf16 (rows linear16, attn16).
// Usage: bench_cpu_ops [threads] (default: all cores). Prints a table.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>

#include "core/backend.h"
#include "cpu/gemm/gemm_bf16.h"

using namespace ovis;

namespace {
Tensor random_tensor(const Shape& s, DType t, uint32_t seed) {
  Tensor r = host_alloc(s, t);
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  for (int64_t i = 0; i < r.numel(); ++i) {
    if (t == DType::F32)
      r.ptr<float>()[i] = d(g);
    else
      r.ptr<uint16_t>()[i] = t == DType::BF16 ? f32_to_bf16(d(g)) : f32_to_f16(d(g));
  }
  return r;
}

// Best-of-N wall time in seconds (one warm-up run first).
double time_best(const std::function<void()>& fn, int reps) {
  fn();
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    fn();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

void row(const char* op, const char* shape, double flops, double sec) {
  std::printf("%-10s %-44s %10.2f ms %10.1f GFLOP/s\n", op, shape, sec * 1e3, flops / sec / 1e9);
}
}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 0;
  auto be = create_cpu_backend(threads);
  const bool bf16 = cpu::gemm_bf16_available();
  auto be16 = bf16 ? create_cpu_backend(threads, true) : nullptr;
  std::printf("ovis CPU backend micro-benchmark (threads=%d, 0 = all cores)\n", threads);
  std::printf("%-10s %-44s %13s %18s\n", "op", "shape", "time", "throughput");
  char buf[128];

  // Linear: x [M, K] · w [N, K]^T, the MMDiT D=1024 projections (1280 tokens: qkv 3072, fused single-block
  // 3072+8192, ...) and the text encoder's (2 x 284 tokens: qkv, MLP in [up; gate], MLP out).
  const int64_t lin[][3] = {{1280, 1024, 3072},        {1280, 1024, 3072 + 8192}, {1280, 4096, 1024},
                            {1280, 1024 + 4096, 1024}, {568, 2048, 4096},         {568, 2048, 2 * 6144},
                            {568, 6144, 2048}};
  for (auto& mkn : lin)
    for (DType wt : {DType::BF16, DType::F32}) {
      const int64_t M = mkn[0], K = mkn[1], N = mkn[2];
      Tensor x = random_tensor(Shape{M, K}, DType::F32, 1);
      Tensor w = random_tensor(Shape{N, K}, wt, 2);
      Tensor b = random_tensor(Shape{N}, wt, 3);
      double t = time_best([&] { (void)be->linear(x, w, &b); }, 3);
      std::snprintf(buf, sizeof buf, "M=%lld K=%lld N=%lld w=%s", (long long)M, (long long)K, (long long)N,
                    dtype_name(wt));
      row("linear", buf, 2.0 * M * N * K, t);
      if (bf16 && wt == DType::BF16)
        row("linear16", buf, 2.0 * M * N * K, time_best([&] { (void)be16->linear(x, w, &b); }, 3));
    }

  // Attention: [1, S, H, hd] full (MMDiT at D=1024: the model's 128-wide heads, and 64-wide ones) and causal
  // GQA (text encoder-like).
  for (const int64_t hd : {128, 64}) {
    const int64_t S = 1280, H = 1024 / hd;
    Tensor q = random_tensor(Shape{1, S, H, hd}, DType::F32, 4);
    Tensor k = random_tensor(Shape{1, S, H, hd}, DType::F32, 5);
    Tensor v = random_tensor(Shape{1, S, H, hd}, DType::F32, 6);
    double t = time_best([&] { (void)be->attention(q, k, v, 0.125f, false, nullptr); }, 3);
    std::snprintf(buf, sizeof buf, "S=%lld H=%lld hd=%lld full", (long long)S, (long long)H, (long long)hd);
    row("attention", buf, 4.0 * S * S * H * hd, t);
    if (bf16)
      row("attn16", buf, 4.0 * S * S * H * hd,
          time_best([&] { (void)be16->attention(q, k, v, 0.125f, false, nullptr); }, 3));
  }
  {
    const int64_t S = 288, Hq = 16, Hkv = 8, hd = 128;
    Tensor q = random_tensor(Shape{1, S, Hq, hd}, DType::F32, 7);
    Tensor k = random_tensor(Shape{1, S, Hkv, hd}, DType::F32, 8);
    Tensor v = random_tensor(Shape{1, S, Hkv, hd}, DType::F32, 9);
    double t = time_best([&] { (void)be->attention(q, k, v, 0.088f, true, nullptr); }, 5);
    std::snprintf(buf, sizeof buf, "S=%lld Hq=%lld Hkv=%lld hd=%lld causal", (long long)S, (long long)Hq,
                  (long long)Hkv, (long long)hd);
    row("attention", buf, 2.0 * S * S * Hq * hd, t);  // about half of the full product is computed
    if (bf16)
      row("attn16", buf, 2.0 * S * S * Hq * hd,
          time_best([&] { (void)be16->attention(q, k, v, 0.088f, true, nullptr); }, 5));
  }

  // Conv2d: VAE-like 3x3 same, 3x3 stride 2 with (0,1,0,1) padding, 1x1.
  struct ConvCase {
    int64_t Ci, Co, H, k;
    int s, pt, pl, pb, pr;
  };
  // The VAE decoder's shapes at 512x512 (channels 32,64,128,128): few output channels at high resolution.
  const ConvCase convs[] = {{128, 128, 128, 3, 1, 1, 1, 1, 1}, {128, 128, 128, 3, 2, 0, 0, 1, 1},
                            {256, 128, 64, 1, 1, 0, 0, 0, 0},  {64, 64, 256, 3, 1, 1, 1, 1, 1},
                            {32, 32, 512, 3, 1, 1, 1, 1, 1},   {64, 32, 512, 1, 1, 0, 0, 0, 0},
                            {32, 3, 512, 3, 1, 1, 1, 1, 1}};
  for (const ConvCase& c : convs) {
    Tensor x = random_tensor(Shape{1, c.Ci, c.H, c.H}, DType::F32, 10);
    Tensor w = random_tensor(Shape{c.Co, c.Ci, c.k, c.k}, DType::BF16, 11);
    Tensor b = random_tensor(Shape{c.Co}, DType::F32, 12);
    const int64_t Ho = (c.H + c.pt + c.pb - c.k) / c.s + 1, Wo = (c.H + c.pl + c.pr - c.k) / c.s + 1;
    double t = time_best([&] { (void)be->conv2d(x, w, &b, c.s, c.pt, c.pl, c.pb, c.pr); }, 3);
    std::snprintf(buf, sizeof buf, "%lldx%lldx%lld k=%lld s=%d -> %lld ch", (long long)c.Ci, (long long)c.H,
                  (long long)c.H, (long long)c.k, c.s, (long long)c.Co);
    row("conv2d", buf, 2.0 * c.Co * Ho * Wo * c.Ci * c.k * c.k, t);
  }

  // Memory-bound VAE ops at the decoder's largest sizes (GB/s counts bytes read + written once).
  {
    Tensor x = random_tensor(Shape{1, 32, 512, 512}, DType::F32, 13);
    Tensor w = random_tensor(Shape{32}, DType::F32, 14);
    double t = time_best([&] { (void)be->group_norm(x, w, w, 32, 1e-6f, true); }, 5);
    std::printf("%-10s %-44s %10.2f ms %10.1f GB/s\n", "groupnorm", "32x512x512 G=32 +silu", t * 1e3,
                2.0 * double(x.nbytes()) / t / 1e9);
    Tensor u = random_tensor(Shape{1, 64, 256, 256}, DType::F32, 15);
    t = time_best([&] { (void)be->upsample_nearest2x(u); }, 5);
    std::printf("%-10s %-44s %10.2f ms %10.1f GB/s\n", "upsample", "64x256x256 -> 512x512", t * 1e3,
                5.0 * double(u.nbytes()) / t / 1e9);
  }
  return 0;
}
