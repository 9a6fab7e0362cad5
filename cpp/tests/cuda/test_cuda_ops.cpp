// Every CUDA backend op against the CPU backend (the reference) on random inputs, in fp32 mode
// (rel err <= 1e-5) and bf16 mode (<= 1e-2), small and full-size shapes, then a full-size MMDiT double
// and single block with random bf16 weights. With --quick (cuda_test_main.cpp) only the small shapes.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/error.h"
#include "cuda_test_options.h"
#include "model/mmdit.h"
#include "model/rope.h"
#include "tests/testing.h"

using namespace ovis;

namespace {

int g_failures = 0, g_checks = 0;

// Host f32 tensor with uniform values in [-scale, scale); rounded to bf16 values when `bf16_exact`
// so both backends see identical inputs in bf16 mode.
Tensor rand_host(const Shape& s, uint32_t seed, float scale = 1.f, bool bf16_exact = false) {
  Tensor t = host_f32(s);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-scale, scale);
  float* p = t.ptr<float>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    float v = u(rng);
    if (v == 0.f) v = scale * 1e-3f;
    p[i] = bf16_exact ? bf16_to_f32(f32_to_bf16(v)) : v;
  }
  return t;
}

// A private host copy (the CPU backend's upload may view host memory, and in-place ops would then
// modify the caller's tensor).
Tensor clone(const Tensor& t) {
  Tensor o = host_f32(t.shape);
  std::memcpy(o.data, t.data, t.nbytes());
  return o;
}

// Host copy of an f32 tensor in dtype t (weights as a checkpoint stores them).
Tensor host_as(const Tensor& f, DType t) {
  if (t == DType::F32) return f;
  Tensor o = host_alloc(f.shape, t);
  const float* s = f.ptr<float>();
  uint16_t* d = o.ptr<uint16_t>();
  for (int64_t i = 0; i < f.numel(); ++i) d[i] = t == DType::BF16 ? f32_to_bf16(s[i]) : f32_to_f16(s[i]);
  return o;
}

void check(const std::string& name, Backend& cpu, const Tensor& ref_dev, Backend& gpu, const Tensor& out_dev,
           double tol) {
  ++g_checks;
  Tensor ref = cpu.to_host_f32(ref_dev), out = gpu.to_host_f32(out_dev);
  if (ref.shape != out.shape) {
    std::printf("FAIL %-48s shape %s vs %s\n", name.c_str(), out.shape.str().c_str(), ref.shape.str().c_str());
    ++g_failures;
    return;
  }
  double num = 0, den = 0;
  bool nan = false;
  const float* r = ref.ptr<float>();
  const float* o = out.ptr<float>();
  for (int64_t i = 0; i < ref.numel(); ++i) {
    if (!std::isfinite(o[i])) nan = true;
    const double d = double(o[i]) - double(r[i]);
    num += d * d;
    den += double(r[i]) * r[i];
  }
  const double rel = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  const bool ok = !nan && rel <= tol;
  if (!ok) ++g_failures;
  std::printf("%s %-48s rel %.3e (tol %.0e)%s\n", ok ? "ok  " : "FAIL", name.c_str(), rel, tol, nan ? " NaN/Inf!" : "");
}

// Runs f and reports an exception as a failure (so one broken op does not hide the others).
void guarded(const std::string& name, const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    ++g_failures;
    std::printf("FAIL %-48s threw %s: %s\n", name.c_str(), e.code().c_str(), e.what());
  } catch (const std::exception& e) {
    ++g_failures;
    std::printf("FAIL %-48s threw %s\n", name.c_str(), e.what());
  }
}

struct Ctx {
  Backend& cpu;
  Backend& gpu;
  bool fp32;
  bool full;
  double tol() const { return fp32 ? 1e-5 : 1e-2; }
  std::string tag(const std::string& s) const { return std::string(fp32 ? "[fp32] " : "[bf16] ") + s; }
  Tensor rnd(const Shape& s, uint32_t seed, float scale = 1.f) const { return rand_host(s, seed, scale, !fp32); }
};

void test_linear(Ctx& c, int64_t b, int64_t s, int64_t k, int64_t n, DType wt, bool bias, uint32_t seed) {
  const std::string name =
      c.tag("linear x[" + std::to_string(b) + "," + std::to_string(s) + "," + std::to_string(k) + "] w[" +
            std::to_string(n) + "," + std::to_string(k) + "] " + dtype_name(wt) + (bias ? " +bias" : ""));
  guarded(name, [&] {
    Tensor x = c.rnd({b, s, k}, seed);
    Tensor w = host_as(rand_host({n, k}, seed + 1, 1.f / std::sqrt(float(std::max<int64_t>(k, 1)))), wt);
    Tensor bb = host_as(rand_host({n}, seed + 2), wt);
    Tensor wc = c.cpu.upload(w), wg = c.gpu.upload(w), bc = c.cpu.upload(bb), bg = c.gpu.upload(bb);
    Tensor r = c.cpu.linear(c.cpu.upload(x), wc, bias ? &bc : nullptr);
    Tensor o = c.gpu.linear(c.gpu.upload(x), wg, bias ? &bg : nullptr);
    check(name, c.cpu, r, c.gpu, o, c.tol());
  });
}

void test_elementwise(Ctx& c, const Shape& s, uint32_t seed) {
  const std::string sh = s.str();
  Tensor x = c.rnd(s, seed), y = c.rnd(s, seed + 1);
  guarded(c.tag("silu " + sh), [&] {
    check(c.tag("silu " + sh), c.cpu, c.cpu.silu(c.cpu.upload(x)), c.gpu, c.gpu.silu(c.gpu.upload(x)), c.tol());
  });
  guarded(c.tag("add_ " + sh), [&] {
    Tensor a = c.cpu.upload(clone(x)), g = c.gpu.upload(x);
    c.cpu.add_(a, c.cpu.upload(y));
    c.gpu.add_(g, c.gpu.upload(y));
    check(c.tag("add_ " + sh), c.cpu, a, c.gpu, g, c.tol());
  });
  guarded(c.tag("axpby_ (f32 latents) " + sh), [&] {
    Tensor a = c.cpu.upload(rand_host(s, seed + 7)), g = c.gpu.upload(rand_host(s, seed + 7));
    c.cpu.axpby_(a, 0.75f, c.cpu.upload(y), -0.3f);
    c.gpu.axpby_(g, 0.75f, c.gpu.upload(y), -0.3f);
    check(c.tag("axpby_ (f32 latents) " + sh), c.cpu, a, c.gpu, g, 1e-5);  // f32 in both modes
  });
  guarded(c.tag("cast " + sh), [&] {
    Tensor g = c.gpu.cast(c.gpu.upload(x), DType::BF16);
    Tensor h = c.gpu.cast(g, DType::F32);
    check(c.tag("cast f32->bf16->f32 " + sh), c.cpu, c.cpu.upload(x), c.gpu, h, 4e-3);
  });
}

void test_swiglu(Ctx& c, int64_t b, int64_t s, int64_t f, uint32_t seed) {
  const std::string name =
      c.tag("swiglu [" + std::to_string(b) + "," + std::to_string(s) + "," + std::to_string(2 * f) + "]");
  guarded(name, [&] {
    Tensor x = c.rnd({b, s, 2 * f}, seed);
    check(name, c.cpu, c.cpu.swiglu(c.cpu.upload(x)), c.gpu, c.gpu.swiglu(c.gpu.upload(x)), c.tol());
  });
}

void test_gated_add(Ctx& c, int64_t b, int64_t s, int64_t d, uint32_t seed) {
  const std::string name =
      c.tag("gated_add_ [" + std::to_string(b) + "," + std::to_string(s) + "," + std::to_string(d) + "]");
  guarded(name, [&] {
    Tensor x = c.rnd({b, s, d}, seed), y = c.rnd({b, s, d}, seed + 1), g = c.rnd({b, d}, seed + 2);
    Tensor xc = c.cpu.upload(clone(x));
    Tensor xg = c.gpu.upload(x);
    c.cpu.gated_add_(xc, c.cpu.upload(g), c.cpu.upload(y));
    c.gpu.gated_add_(xg, c.gpu.upload(g), c.gpu.upload(y));
    check(name, c.cpu, xc, c.gpu, xg, c.tol());
  });
}

void test_layer_norm(Ctx& c, int64_t b, int64_t s, int64_t d, bool mod, uint32_t seed) {
  const std::string name = c.tag(std::string(mod ? "layer_norm_mod [" : "layer_norm [") + std::to_string(b) + "," +
                                 std::to_string(s) + "," + std::to_string(d) + "]");
  guarded(name, [&] {
    Tensor x = c.rnd({b, s, d}, seed, 3.f), sh = c.rnd({b, d}, seed + 1), sc = c.rnd({b, d}, seed + 2);
    Tensor shc = c.cpu.upload(sh), scc = c.cpu.upload(sc), shg = c.gpu.upload(sh), scg = c.gpu.upload(sc);
    Tensor r = c.cpu.layer_norm_mod(c.cpu.upload(x), mod ? &shc : nullptr, mod ? &scc : nullptr, 1e-6f);
    Tensor o = c.gpu.layer_norm_mod(c.gpu.upload(x), mod ? &shg : nullptr, mod ? &scg : nullptr, 1e-6f);
    check(name, c.cpu, r, c.gpu, o, c.tol());
  });
}

void test_rms_norm(Ctx& c, const Shape& s, uint32_t seed) {
  const std::string name = c.tag("rms_norm " + s.str());
  guarded(name, [&] {
    Tensor x = c.rnd(s, seed, 2.f);
    Tensor w = host_as(rand_host({s[-1]}, seed + 1), DType::BF16);
    check(name, c.cpu, c.cpu.rms_norm(c.cpu.upload(x), c.cpu.upload(w), 1e-6f), c.gpu,
          c.gpu.rms_norm(c.gpu.upload(x), c.gpu.upload(w), 1e-6f), c.tol());
  });
}

void test_group_norm(Ctx& c, const Shape& s, int groups, bool silu, uint32_t seed) {
  const std::string name = c.tag(std::string("group_norm") + (silu ? "+silu " : " ") + s.str());
  guarded(name, [&] {
    Tensor x = c.rnd(s, seed, 2.f);
    // A non-zero mean stresses the variance computation.
    for (int64_t i = 0; i < x.numel(); ++i) x.ptr<float>()[i] += 0.5f;
    Tensor w = host_as(rand_host({s[1]}, seed + 1), DType::BF16), b = host_as(rand_host({s[1]}, seed + 2), DType::BF16);
    check(name, c.cpu, c.cpu.group_norm(c.cpu.upload(x), c.cpu.upload(w), c.cpu.upload(b), groups, 1e-6f, silu), c.gpu,
          c.gpu.group_norm(c.gpu.upload(x), c.gpu.upload(w), c.gpu.upload(b), groups, 1e-6f, silu), c.tol());
  });
}

void test_rope(Ctx& c, int64_t b, int64_t s, int64_t h, int64_t hd, bool interleaved, uint32_t seed) {
  const std::string name = c.tag(std::string(interleaved ? "rope_interleaved_ [" : "rope_half_ [") + std::to_string(b) +
                                 "," + std::to_string(s) + "," + std::to_string(h) + "," + std::to_string(hd) + "]");
  guarded(name, [&] {
    Tensor x = c.rnd({b, s, h, hd}, seed);
    Tensor ang = rand_host({s, hd / 2}, seed + 1, 3.f);
    Tensor cs = host_f32({s, hd / 2}), sn = host_f32({s, hd / 2});
    for (int64_t i = 0; i < ang.numel(); ++i) {
      cs.ptr<float>()[i] = std::cos(ang.ptr<float>()[i]);
      sn.ptr<float>()[i] = std::sin(ang.ptr<float>()[i]);
    }
    Tensor rc = c.cpu.upload(clone(x)), rg = c.gpu.upload(x);
    if (interleaved) {
      c.cpu.rope_interleaved_(rc, c.cpu.upload(cs), c.cpu.upload(sn));
      c.gpu.rope_interleaved_(rg, c.gpu.upload(cs), c.gpu.upload(sn));
    } else {
      c.cpu.rope_half_(rc, c.cpu.upload(cs), c.cpu.upload(sn));
      c.gpu.rope_half_(rg, c.gpu.upload(cs), c.gpu.upload(sn));
    }
    check(name, c.cpu, rc, c.gpu, rg, c.tol());
  });
}

// mask_mode: 0 none; 1 padding mask (the last batch item loses its tail and its first 3 keys: with causal,
// rows fully masked); 2 the last batch item has every key masked (all its rows must be zeros).
void test_attention(Ctx& c, int64_t b, int64_t sq, int64_t sk, int64_t hq, int64_t hkv, int64_t hd, bool causal,
                    int mask_mode, uint32_t seed) {
  const std::string name = c.tag("attention q[" + std::to_string(b) + "," + std::to_string(sq) + "," +
                                 std::to_string(hq) + "," + std::to_string(hd) + "] kv heads " + std::to_string(hkv) +
                                 " sk " + std::to_string(sk) + (causal ? " causal" : "") +
                                 (mask_mode == 1   ? " masked"
                                  : mask_mode == 2 ? " one batch all masked"
                                                   : ""));
  guarded(name, [&] {
    Tensor q = c.rnd({b, sq, hq, hd}, seed, 2.f), k = c.rnd({b, sk, hkv, hd}, seed + 1, 2.f),
           v = c.rnd({b, sk, hkv, hd}, seed + 2);
    Tensor mask = host_f32({b, sk});
    for (int64_t bi = 0; bi < b; ++bi)
      for (int64_t j = 0; j < sk; ++j)
        mask.ptr<float>()[bi * sk + j] = (bi == b - 1 && (mask_mode == 2 || j >= sk * 2 / 3 || j < 3)) ? 0.f : 1.f;
    const float scale = 1.f / std::sqrt(float(hd));
    Tensor mc = c.cpu.upload(mask), mg = c.gpu.upload(mask);
    Tensor r =
        c.cpu.attention(c.cpu.upload(q), c.cpu.upload(k), c.cpu.upload(v), scale, causal, mask_mode ? &mc : nullptr);
    Tensor qg = c.gpu.upload(q), kg = c.gpu.upload(k), vg = c.gpu.upload(v);
    if (!c.fp32) {  // what the bf16 model feeds it (the flash kernel path for hd 128)
      qg = c.gpu.cast(qg, DType::BF16);
      kg = c.gpu.cast(kg, DType::BF16);
      vg = c.gpu.cast(vg, DType::BF16);
    }
    Tensor o = c.gpu.attention(qg, kg, vg, scale, causal, mask_mode ? &mg : nullptr);
    check(name, c.cpu, r, c.gpu, o, c.tol());
  });
}

void test_conv(Ctx& c, const Shape& xs, int64_t cout, int k, int stride, int pt, int pl, int pb, int pr, bool bias,
               uint32_t seed) {
  const std::string name =
      c.tag("conv2d x" + xs.str() + " -> " + std::to_string(cout) + " k" + std::to_string(k) + " s" +
            std::to_string(stride) + " pad(" + std::to_string(pt) + "," + std::to_string(pl) + "," +
            std::to_string(pb) + "," + std::to_string(pr) + ")" + (bias ? " +bias" : ""));
  guarded(name, [&] {
    Tensor x = c.rnd(xs, seed);
    Tensor w = host_as(rand_host({cout, xs[1], k, k}, seed + 1, 1.f / std::sqrt(float(xs[1] * k * k))), DType::BF16);
    Tensor bb = host_as(rand_host({cout}, seed + 2), DType::BF16);
    Tensor bc = c.cpu.upload(bb), bg = c.gpu.upload(bb);
    Tensor r = c.cpu.conv2d(c.cpu.upload(x), c.cpu.upload(w), bias ? &bc : nullptr, stride, pt, pl, pb, pr);
    Tensor o = c.gpu.conv2d(c.gpu.upload(x), c.gpu.upload(w), bias ? &bg : nullptr, stride, pt, pl, pb, pr);
    check(name, c.cpu, r, c.gpu, o, c.tol());
  });
}

void test_layout(Ctx& c, uint32_t seed) {
  Tensor a = c.rnd({2, 5, 7}, seed), b = c.rnd({2, 3, 7}, seed + 1), d = c.rnd({2, 5, 4}, seed + 2);
  guarded(c.tag("concat axis 1"), [&] {
    check(c.tag("concat axis 1"), c.cpu, c.cpu.concat(c.cpu.upload(a), c.cpu.upload(b), 1), c.gpu,
          c.gpu.concat(c.gpu.upload(a), c.gpu.upload(b), 1), c.tol());
  });
  guarded(c.tag("concat axis 2"), [&] {
    check(c.tag("concat axis 2"), c.cpu, c.cpu.concat(c.cpu.upload(a), c.cpu.upload(d), 2), c.gpu,
          c.gpu.concat(c.gpu.upload(a), c.gpu.upload(d), 2), c.tol());
  });
  guarded(c.tag("slice axis 1/2"), [&] {
    check(c.tag("slice axis 1 [1,4)"), c.cpu, c.cpu.slice(c.cpu.upload(a), 1, 1, 3), c.gpu,
          c.gpu.slice(c.gpu.upload(a), 1, 1, 3), c.tol());
    check(c.tag("slice axis 2 [2,7)"), c.cpu, c.cpu.slice(c.cpu.upload(a), 2, 2, 5), c.gpu,
          c.gpu.slice(c.gpu.upload(a), 2, 2, 5), c.tol());
  });
  guarded(c.tag("transpose_last2"), [&] {
    Tensor t = c.rnd({2, 37, 70}, seed + 3);
    check(c.tag("transpose_last2 [2,37,70]"), c.cpu, c.cpu.transpose_last2(c.cpu.upload(t)), c.gpu,
          c.gpu.transpose_last2(c.gpu.upload(t)), c.tol());
  });
  guarded(c.tag("upsample_nearest2x"), [&] {
    Tensor t = c.rnd({1, 3, 9, 11}, seed + 4);
    check(c.tag("upsample_nearest2x [1,3,9,11]"), c.cpu, c.cpu.upsample_nearest2x(c.cpu.upload(t)), c.gpu,
          c.gpu.upsample_nearest2x(c.gpu.upload(t)), c.tol());
  });
  guarded(c.tag("embedding"), [&] {
    Tensor table = host_as(rand_host({1000, 64}, seed + 5), DType::BF16);
    Tensor ids = host_alloc({2, 13}, DType::I32);
    for (int i = 0; i < 26; ++i) ids.ptr<int32_t>()[i] = (i * 377 + 11) % 1000;
    check(c.tag("embedding [1000,64] ids [2,13]"), c.cpu, c.cpu.embedding(c.cpu.upload(table), c.cpu.upload(ids)),
          c.gpu, c.gpu.embedding(c.gpu.upload(table), c.gpu.upload(ids)), c.tol());
  });
}

void test_errors(Ctx& c) {
  ++g_checks;
  bool ok = false;
  try {
    Tensor x = c.gpu.upload(rand_host({4, 8}, 1)), w = c.gpu.upload(rand_host({3, 9}, 2));
    c.gpu.linear(x, w, nullptr);
  } catch (const Error& e) {
    ok = e.code() == "OVIS_BAD_ARGUMENT";
  }
  ++g_checks;
  bool ok2 = false;
  try {
    Tensor table = c.gpu.upload(rand_host({10, 4}, 1));
    Tensor ids = host_alloc({3}, DType::I32);
    ids.ptr<int32_t>()[0] = 0, ids.ptr<int32_t>()[1] = 10, ids.ptr<int32_t>()[2] = -1;
    c.gpu.embedding(table, c.gpu.upload(ids));
  } catch (const Error& e) {
    ok2 = e.code() == "OVIS_BAD_ARGUMENT";
  }
  if (!ok || !ok2) ++g_failures;
  std::printf("%s %s\n", ok && ok2 ? "ok  " : "FAIL", c.tag("bad shapes / ids give OVIS_BAD_ARGUMENT").c_str());
}

void run_ops(Ctx& c) {
  const int64_t B = 2, S = 4352, D = 3072, H = 24, HD = 128;
  test_linear(c, 2, 7, 96, 160, DType::BF16, true, 10);
  test_linear(c, 1, 5, 3, 7, DType::F32, true, 11);  // odd K: unaligned rows
  test_linear(c, 2, 9, 64, 48, DType::F16, false, 12);
  test_linear(c, 1, 33, 256, 24, DType::F32, false, 13);
  test_linear(c, 2, 3, 0, 5, DType::BF16, true, 14);  // K = 0: y = bias
  test_elementwise(c, {2, 33, 65}, 20);
  test_swiglu(c, 2, 17, 96, 21);
  test_gated_add(c, 2, 17, 96, 22);
  test_layer_norm(c, 2, 17, 96, true, 23);
  test_layer_norm(c, 2, 17, 96, false, 24);
  test_rms_norm(c, {2, 17, 3, 128}, 25);
  test_rms_norm(c, {2, 9, 2048}, 26);
  test_group_norm(c, {1, 64, 16, 16}, 32, false, 27);
  test_group_norm(c, {2, 128, 33, 31}, 32, true, 28);
  test_rope(c, 2, 19, 3, 128, true, 29);
  test_rope(c, 2, 19, 3, 64, false, 30);
  test_attention(c, 2, 77, 77, 3, 3, 128, false, 0, 31);
  test_attention(c, 2, 95, 95, 4, 2, 128, true, 1, 32);  // Qwen3 style: causal + padding mask + GQA
  test_attention(c, 1, 50, 70, 2, 1, 64, false, 1, 33);
  test_attention(c, 1, 300, 300, 1, 1, 512, false, 0, 34);  // VAE style: one 512-wide head
  test_attention(c, 2, 70, 45, 4, 2, 128, false, 2, 39);    // flash: Sq != Sk, odd tiles, one batch all masked
  test_attention(c, 2, 33, 21, 2, 2, 80, false, 2, 41);     // generic: same, head_dim not a multiple of 32
  test_conv(c, {1, 16, 20, 18}, 32, 3, 1, 1, 1, 1, 1, true, 35);
  test_conv(c, {2, 32, 12, 12}, 16, 1, 1, 0, 0, 0, 0, true, 36);
  test_conv(c, {2, 8, 17, 17}, 8, 3, 2, 0, 0, 1, 1, true, 37);  // encoder downsample (0,1,0,1)
  test_conv(c, {1, 4, 9, 9}, 6, 3, 1, 1, 1, 1, 1, false, 38);
  test_layout(c, 40);
  test_errors(c);
  if (!c.full) return;
  // Full-size shapes of the MMDiT (D 3072, 24 x 128 heads, 4352 tokens, batch 2), Qwen3 and the VAE.
  test_linear(c, B, S, D, D, DType::BF16, true, 100);
  test_linear(c, B, 256, 2048, D, DType::BF16, true, 101);
  test_elementwise(c, {B, S, D}, 102);
  test_swiglu(c, B, S, 12288, 103);
  test_gated_add(c, B, S, D, 104);
  test_layer_norm(c, B, S, D, true, 105);
  test_rms_norm(c, {B, S, H, HD}, 106);
  test_rope(c, B, S, H, HD, true, 107);
  test_rope(c, 2, 284, 16, 128, false, 108);
  test_attention(c, B, S, S, H, H, HD, false, 0, 109);
  test_attention(c, 2, 284, 284, 16, 8, 128, true, 1, 110);
  test_attention(c, 1, 4096, 4096, 1, 1, 512, false, 0, 111);  // VAE mid attention at 512^2
  test_group_norm(c, {1, 512, 128, 128}, 32, true, 112);
  test_conv(c, {1, 512, 64, 64}, 512, 3, 1, 1, 1, 1, 1, true, 113);
  test_conv(c, {1, 256, 128, 128}, 128, 1, 1, 0, 0, 0, 0, true, 114);
}

// ---- full-size MMDiT blocks with random bf16 weights ------------------------------------------

struct HostLinear {
  Tensor w, b;
};
HostLinear host_linear(int64_t out, int64_t in, uint32_t seed) {
  return {host_as(rand_host({out, in}, seed, 1.f / std::sqrt(float(in))), DType::BF16),
          host_as(rand_host({out}, seed + 1, 0.05f), DType::BF16)};
}

struct DevLinear {
  Tensor w, b;
  LinearW ref() const { return {&w, &b}; }
};
DevLinear dev(Backend& be, const HostLinear& h) { return {be.upload(h.w), be.upload(h.b)}; }

void test_blocks(Backend& cpu, Backend& gpu) {
  DitConfig cfg;
  const int64_t B = 2, T = 256, L = 4096, D = cfg.dim(), F = cfg.mlp_hidden, HD = cfg.head_dim;
  // Positions as the model builds them: text (0, j, j), image (0, r, c) on a 64 x 64 grid.
  Tensor ids = host_f32({T + L, 3});
  for (int64_t j = 0; j < T; ++j) {
    ids.ptr<float>()[j * 3] = 0, ids.ptr<float>()[j * 3 + 1] = float(j), ids.ptr<float>()[j * 3 + 2] = float(j);
  }
  for (int64_t p = 0; p < L; ++p) {
    float* r = ids.ptr<float>() + (T + p) * 3;
    r[0] = 0, r[1] = float(p / 64), r[2] = float(p % 64);
  }
  RopeTables rc = rope_axes_tables(cpu, ids, cfg.axes_dims, cfg.theta);
  RopeTables rg = rope_axes_tables(gpu, ids, cfg.axes_dims, cfg.theta);
  Tensor temb = rand_host({B, D}, 500, 1.f, true);
  Tensor stc = cpu.silu(cpu.upload(temb)), stg = gpu.silu(gpu.upload(temb));

  guarded("[bf16] MMDiT double block (full size)", [&] {
    HostLinear hl[2][5];
    Tensor norms[2][2];
    for (int s = 0; s < 2; ++s) {
      const uint32_t base = 600 + 50 * s;
      hl[s][0] = host_linear(6 * D, D, base);
      hl[s][1] = host_linear(3 * D, D, base + 2);
      hl[s][2] = host_linear(D, D, base + 4);
      hl[s][3] = host_linear(2 * F, D, base + 6);
      hl[s][4] = host_linear(D, F, base + 8);
      norms[s][0] = host_as(rand_host({HD}, base + 10), DType::BF16);
      norms[s][1] = host_as(rand_host({HD}, base + 11), DType::BF16);
    }
    auto run = [&](Backend& be, const RopeTables& rope, const Tensor& st, Tensor& img, Tensor& txt) {
      std::vector<DevLinear> keep;
      std::vector<Tensor> nk;
      DitDoubleW w;
      DitStreamW* sw[2] = {&w.img, &w.txt};
      for (int s = 0; s < 2; ++s)
        for (int i = 0; i < 5; ++i) keep.push_back(dev(be, hl[s][i]));
      for (int s = 0; s < 2; ++s)
        for (int i = 0; i < 2; ++i) nk.push_back(be.upload(norms[s][i]));
      for (int s = 0; s < 2; ++s) {
        sw[s]->mod = keep[s * 5 + 0].ref();
        sw[s]->qkv = keep[s * 5 + 1].ref();
        sw[s]->proj = keep[s * 5 + 2].ref();
        sw[s]->mlp_in = keep[s * 5 + 3].ref();
        sw[s]->mlp_out = keep[s * 5 + 4].ref();
        sw[s]->q_norm = &nk[s * 2];
        sw[s]->k_norm = &nk[s * 2 + 1];
      }
      dit_double_block(be, cfg, w, img, txt, st, rope);
    };
    Tensor img = rand_host({B, L, D}, 700, 1.f, true), txt = rand_host({B, T, D}, 701, 1.f, true);
    Tensor icd = cpu.upload(clone(img)), tcd = cpu.upload(clone(txt)), igd = gpu.upload(img), tgd = gpu.upload(txt);
    run(cpu, rc, stc, icd, tcd);
    run(gpu, rg, stg, igd, tgd);
    check("[bf16] double block: image stream", cpu, icd, gpu, igd, 1e-2);
    check("[bf16] double block: text stream", cpu, tcd, gpu, tgd, 1e-2);
  });

  guarded("[bf16] MMDiT single block (full size)", [&] {
    HostLinear mod = host_linear(3 * D, D, 800), l1 = host_linear(3 * D + 2 * F, D, 802),
               l2 = host_linear(D, D + F, 804);
    Tensor qn = host_as(rand_host({HD}, 806), DType::BF16), kn = host_as(rand_host({HD}, 807), DType::BF16);
    auto run = [&](Backend& be, const RopeTables& rope, const Tensor& st, Tensor& h) {
      DevLinear m = dev(be, mod), a = dev(be, l1), b = dev(be, l2);
      Tensor q = be.upload(qn), k = be.upload(kn);
      DitSingleW w;
      w.mod = m.ref();
      w.linear1 = a.ref();
      w.linear2 = b.ref();
      w.q_norm = &q;
      w.k_norm = &k;
      dit_single_block(be, cfg, w, h, st, rope);
    };
    Tensor h = rand_host({B, T + L, D}, 900, 1.f, true);
    Tensor hcd = cpu.upload(clone(h)), hgd = gpu.upload(h);
    run(cpu, rc, stc, hcd);
    run(gpu, rg, stg, hgd);
    check("[bf16] single block", cpu, hcd, gpu, hgd, 1e-2);
  });
}

Backend& cpu_reference() {
  static std::unique_ptr<Backend> cpu = create_cpu_backend(0);
  return *cpu;
}

// Runs `body` and fails the test when it recorded failures (each check prints its own line).
void expect_no_new_failures(const std::function<void()>& body) {
  const int before = g_failures, checks_before = g_checks;
  body();
  std::printf("%d checks, %d failures\n", g_checks - checks_before, g_failures - before);
  CHECK_MSG(g_failures == before, (g_failures - before) << " failed check(s), see the FAIL lines above");
}

void run_ops_mode(bool fp32) {
  auto gpu = create_cuda_backend(0, fp32);
  Ctx c{cpu_reference(), *gpu, fp32, !ovis_cuda_test::options().quick};
  std::printf("== %s vs %s, %s%s\n", gpu->name().c_str(), c.cpu.name().c_str(), fp32 ? "fp32" : "bf16",
              c.full ? "" : " (quick)");
  expect_no_new_failures([&] { run_ops(c); });
}

}  // namespace

TEST(cuda_ops_fp32) { run_ops_mode(true); }
TEST(cuda_ops_bf16) { run_ops_mode(false); }

TEST(cuda_blocks_bf16_full) {
  if (ovis_cuda_test::options().quick) {
    std::printf("skipped (--quick)\n");
    return;
  }
  auto gpu = create_cuda_backend(0, false);
  expect_no_new_failures([&] { test_blocks(cpu_reference(), *gpu); });
}
