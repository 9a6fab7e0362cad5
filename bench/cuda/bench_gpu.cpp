// ovis_bench_gpu: full-size Ovis-Image networks with random bf16 weights made on the GPU (no files),
// timed with CUDA events after a warm-up. Reports one MMDiT forward (and its TFLOP/s), the VAE decode,
// the Qwen3 text encoding (2 prompts x 284 tokens), the estimated 50-step CFG total and peak memory.
// The graphs are the engine's own block functions (cpp/engine/model) on the CUDA backend.
//
// Usage: ovis_bench_gpu [--size WxH | --size N]... [--batch B] [--iters N] [--steps N] [--no-text] [--no-vae] [--fp32]
//   default: --size 1024 --batch 2 (CFG as one batch of 2), 3 timed iterations.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/error.h"
#include "cuda_backend.h"
#include "cuda_check.h"
#include "model/mmdit.h"
#include "model/rope.h"
#include "model/vae.h"

using namespace ovis;
using ovis::cuda::CudaBackend;

namespace {

// Random device weights, deterministic per call order.
struct Maker {
  CudaBackend& be;
  uint64_t seed = 1;
  std::vector<std::unique_ptr<Tensor>> keep;  // stable addresses for the weight structs' pointers
  int64_t params = 0;
  const Tensor* t(const Shape& s, float scale, DType dt = DType::BF16) {
    auto p = std::make_unique<Tensor>(be.alloc(s, dt));
    be.fill_random(*p, scale, seed++);
    params += p->numel();
    keep.push_back(std::move(p));
    return keep.back().get();
  }
  LinearW linear(int64_t out, int64_t in) { return {t({out, in}, 1.f / std::sqrt(float(in))), t({out}, 0.02f)}; }
  const Tensor* norm(int64_t n) { return t({n}, 1.f); }
  ConvW conv(int64_t out, int64_t in, int64_t k) {
    return {t({out, in, k, k}, 1.f / std::sqrt(float(in * k * k))), t({out}, 0.02f)};
  }
  NormW gn(int64_t c) { return {t({c}, 1.f), t({c}, 0.1f)}; }
};

double time_ms(CudaBackend& be, int iters, const std::function<void()>& f) {
  cudaEvent_t a, b;
  CUDA_CHECK(cudaEventCreate(&a));
  CUDA_CHECK(cudaEventCreate(&b));
  f();  // warm-up: allocator cache, cuBLASLt plans
  be.sync();
  CUDA_CHECK(cudaEventRecord(a, be.stream()));
  for (int i = 0; i < iters; ++i) f();
  CUDA_CHECK(cudaEventRecord(b, be.stream()));
  CUDA_CHECK(cudaEventSynchronize(b));
  float ms = 0;
  CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return ms / iters;
}

// ---- MMDiT ---------------------------------------------------------------------------------------
struct Dit {
  DitConfig c;
  LinearW img_in, txt_in, time0, time1, final_mod, final_linear;
  const Tensor* txt_norm = nullptr;
  std::vector<DitDoubleW> dbl;
  std::vector<DitSingleW> sgl;
};

Dit make_dit(Maker& mk) {
  Dit d;
  const int64_t D = d.c.dim(), F = d.c.mlp_hidden, hd = d.c.head_dim;
  d.img_in = mk.linear(D, d.c.in_channels);
  d.txt_norm = mk.norm(d.c.context_dim);
  d.txt_in = mk.linear(D, d.c.context_dim);
  d.time0 = mk.linear(D, 256);
  d.time1 = mk.linear(D, D);
  for (int i = 0; i < d.c.num_double; ++i) {
    DitDoubleW w;
    for (DitStreamW* s : {&w.img, &w.txt}) {
      s->mod = mk.linear(6 * D, D);
      s->qkv = mk.linear(3 * D, D);
      s->q_norm = mk.norm(hd);
      s->k_norm = mk.norm(hd);
      s->proj = mk.linear(D, D);
      s->mlp_in = mk.linear(2 * F, D);
      s->mlp_out = mk.linear(D, F);
    }
    d.dbl.push_back(w);
  }
  for (int i = 0; i < d.c.num_single; ++i) {
    DitSingleW w;
    w.mod = mk.linear(3 * D, D);
    w.linear1 = mk.linear(3 * D + 2 * F, D);
    w.q_norm = mk.norm(hd);
    w.k_norm = mk.norm(hd);
    w.linear2 = mk.linear(D, D + F);
    d.sgl.push_back(w);
  }
  d.final_mod = mk.linear(2 * D, D);
  d.final_linear = mk.linear(d.c.out_channels, D);
  return d;
}

// Same graph as MMDiT::forward (which needs a WeightStore built from files).
Tensor dit_forward(Backend& be, const Dit& d, const Tensor& x, const Tensor& ctx, const Tensor& features,
                   const RopeTables& rope) {
  const int64_t T = ctx.shape[1], L = x.shape[1], D = d.c.dim();
  Tensor img = be.linear(x, *d.img_in.w, d.img_in.b);
  Tensor txt = be.linear(be.rms_norm(ctx, *d.txt_norm, d.c.eps), *d.txt_in.w, d.txt_in.b);
  Tensor temb = be.linear(be.silu(be.linear(features, *d.time0.w, d.time0.b)), *d.time1.w, d.time1.b);
  Tensor st = be.silu(temb);
  for (const auto& w : d.dbl) dit_double_block(be, d.c, w, img, txt, st, rope);
  Tensor h = be.concat(txt, img, 1);
  img = txt = Tensor{};
  for (const auto& w : d.sgl) dit_single_block(be, d.c, w, h, st, rope);
  Tensor out = be.slice(h, 1, T, L);
  Tensor mod = be.linear(st, *d.final_mod.w, d.final_mod.b);
  Tensor shift = be.slice(mod, 1, 0, D), scale = be.slice(mod, 1, D, D);
  return be.linear(be.layer_norm_mod(out, &shift, &scale, d.c.eps), *d.final_linear.w, d.final_linear.b);
}

double dit_flops(const DitConfig& c, int64_t B, int64_t T, int64_t L) {
  const double D = c.dim(), F = c.mlp_hidden, S = double(T + L);
  const double dbl = 2.0 * (4 * D * D + 3 * F * D) * S + 4.0 * S * S * D;           // per batch row
  const double sgl = 2.0 * (D * (3 * D + 2 * F) + (D + F) * D) * S + 4.0 * S * S * D;
  return double(B) * (c.num_double * dbl + c.num_single * sgl);
}

// ---- VAE decoder ---------------------------------------------------------------------------------
struct Vae {
  VaeConfig c;
  ConvW conv_in, conv_out;
  NormW norm_out;
  MidBlockW mid;
  std::vector<std::vector<ResnetW>> up_res;
  std::vector<ConvW> up_conv;  // w null on the last block
};

ResnetW make_resnet(Maker& mk, int64_t in, int64_t out) {
  ResnetW r;
  r.norm1 = mk.gn(in);
  r.conv1 = mk.conv(out, in, 3);
  r.norm2 = mk.gn(out);
  r.conv2 = mk.conv(out, out, 3);
  if (in != out) r.shortcut = mk.conv(out, in, 1);
  return r;
}

Vae make_vae(Maker& mk) {
  Vae v;
  const auto& ch = v.c.block_out_channels;
  const int64_t top = ch.back();
  v.conv_in = mk.conv(top, v.c.latent_channels, 3);
  v.mid.res0 = make_resnet(mk, top, top);
  v.mid.has_attention = true;
  v.mid.attn.norm = mk.gn(top);
  v.mid.attn.qkv = {mk.t({3 * top, top}, 1.f / std::sqrt(float(top))), mk.t({3 * top}, 0.02f)};
  v.mid.attn.out = {mk.t({top, top}, 1.f / std::sqrt(float(top))), mk.t({top}, 0.02f)};
  v.mid.res1 = make_resnet(mk, top, top);
  int64_t in = top;
  for (size_t i = 0; i < ch.size(); ++i) {
    const int64_t out = ch[ch.size() - 1 - i];
    std::vector<ResnetW> res;
    for (int j = 0; j <= v.c.layers_per_block; ++j) {
      res.push_back(make_resnet(mk, in, out));
      in = out;
    }
    v.up_res.push_back(res);
    v.up_conv.push_back(i + 1 < ch.size() ? mk.conv(out, out, 3) : ConvW{});
  }
  v.norm_out = mk.gn(in);
  v.conv_out = mk.conv(v.c.out_channels, in, 3);
  return v;
}

Tensor vae_decode(Backend& be, const Vae& v, const Tensor& z) {
  Tensor h = be.conv2d(z, *v.conv_in.w, v.conv_in.b, 1, 1, 1, 1, 1);
  h = vae_mid_block(be, v.c, v.mid, h);
  for (size_t i = 0; i < v.up_res.size(); ++i) {
    for (const auto& r : v.up_res[i]) h = vae_resnet(be, v.c, r, h);
    if (v.up_conv[i].w) h = be.conv2d(be.upsample_nearest2x(h), *v.up_conv[i].w, v.up_conv[i].b, 1, 1, 1, 1, 1);
  }
  h = be.group_norm(h, *v.norm_out.w, *v.norm_out.b, v.c.groups, v.c.eps, true);
  return be.conv2d(h, *v.conv_out.w, v.conv_out.b, 1, 1, 1, 1, 1);
}

// ---- Qwen3 text encoder --------------------------------------------------------------------------
struct TextLayer {
  const Tensor *attn_norm, *qkv, *q_norm, *k_norm, *o, *mlp_norm, *mlp_in, *mlp_out;
};
struct Text {
  TextConfig c;
  const Tensor *embed = nullptr, *norm = nullptr;
  std::vector<TextLayer> layers;
};

Text make_text(Maker& mk) {
  Text t;
  const TextConfig& c = t.c;
  const int64_t H = c.hidden, hd = c.head_dim;
  t.embed = mk.t({c.vocab, H}, 1.f);
  for (int i = 0; i < c.layers; ++i) {
    TextLayer l;
    l.attn_norm = mk.norm(H);
    l.qkv = mk.t({(c.heads + 2 * c.kv_heads) * hd, H}, 1.f / std::sqrt(float(H)));
    l.q_norm = mk.norm(hd);
    l.k_norm = mk.norm(hd);
    l.o = mk.t({H, c.heads * hd}, 1.f / std::sqrt(float(c.heads * hd)));
    l.mlp_norm = mk.norm(H);
    l.mlp_in = mk.t({2 * int64_t(c.intermediate), H}, 1.f / std::sqrt(float(H)));
    l.mlp_out = mk.t({H, c.intermediate}, 1.f / std::sqrt(float(c.intermediate)));
    t.layers.push_back(l);
  }
  t.norm = mk.norm(H);
  return t;
}

// Same math as Qwen3::forward (docs/MODEL.md "Text encoder").
Tensor text_forward(Backend& be, const Text& t, const Tensor& ids, const Tensor& mask, const RopeTables& rope) {
  const TextConfig& c = t.c;
  const int64_t B = ids.shape[0], T = ids.shape[1], hd = c.head_dim, qd = c.heads * hd, kd = c.kv_heads * hd;
  Tensor h = be.embedding(*t.embed, ids);
  for (const auto& l : t.layers) {
    Tensor qkv = be.linear(be.rms_norm(h, *l.attn_norm, c.eps), *l.qkv, nullptr);
    Tensor q = be.rms_norm(be.slice(qkv, 2, 0, qd).view({B, T, c.heads, hd}), *l.q_norm, c.eps);
    Tensor k = be.rms_norm(be.slice(qkv, 2, qd, kd).view({B, T, c.kv_heads, hd}), *l.k_norm, c.eps);
    Tensor v = be.slice(qkv, 2, qd + kd, kd).view({B, T, c.kv_heads, hd});
    be.rope_half_(q, rope.cos, rope.sin);
    be.rope_half_(k, rope.cos, rope.sin);
    Tensor a = be.attention(q, k, v, 1.f / std::sqrt(float(hd)), true, &mask).view({B, T, qd});
    be.add_(h, be.linear(a, *l.o, nullptr));
    Tensor m = be.rms_norm(h, *l.mlp_norm, c.eps);
    be.add_(h, be.linear(be.swiglu(be.linear(m, *l.mlp_in, nullptr)), *l.mlp_out, nullptr));
  }
  return be.rms_norm(h, *t.norm, c.eps);
}

struct Size {
  int64_t w = 1024, h = 1024;
};

Size parse_size(const std::string& s) {
  Size z;
  const auto x = s.find('x');
  if (x == std::string::npos) {
    z.w = z.h = std::atoll(s.c_str());
  } else {
    z.w = std::atoll(s.substr(0, x).c_str());
    z.h = std::atoll(s.substr(x + 1).c_str());
  }
  if (z.w <= 0 || z.h <= 0 || z.w % 16 || z.h % 16) fail("OVIS_BAD_ARGUMENT", "--size " + s + ": W and H must be multiples of 16");
  return z;
}

void row(const std::string& what, const std::string& value) { std::printf("| %-44s | %22s |\n", what.c_str(), value.c_str()); }
std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<Size> sizes;
  int64_t batch = 2;
  int iters = 3, steps = 50;
  bool text = true, vae = true, fp32 = false;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto next = [&]() -> std::string {
        if (i + 1 >= argc) fail("OVIS_BAD_ARGUMENT", a + " needs a value");
        return argv[++i];
      };
      if (a == "--size") sizes.push_back(parse_size(next()));
      else if (a == "--batch") batch = std::atoll(next().c_str());
      else if (a == "--iters") iters = std::atoi(next().c_str());
      else if (a == "--steps") steps = std::atoi(next().c_str());
      else if (a == "--no-text") text = false;
      else if (a == "--no-vae") vae = false;
      else if (a == "--fp32") fp32 = true;
      else fail("OVIS_BAD_ARGUMENT", "unknown option " + a + " (see the comment at the top of bench_gpu.cpp)");
    }
    if (sizes.empty()) sizes.push_back(Size{});
    if (batch < 1 || iters < 1 || steps < 1) fail("OVIS_BAD_ARGUMENT", "--batch, --iters and --steps must be >= 1");
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
  if (cuda_device_count() == 0) {
    std::printf("no CUDA device: skipped\n");
    return 0;
  }
  try {
    auto owned = create_cuda_backend(0, fp32);
    auto& be = dynamic_cast<CudaBackend&>(*owned);
    cudaDeviceProp prop{};
    CUDA_CHECK(cudaGetDeviceProperties(&prop, be.device_index()));
    std::printf("device: %s (%s mode)\n", prop.name, fp32 ? "fp32" : "bf16");

    Maker mk{be};
    Dit dit = make_dit(mk);
    const int64_t dit_params = mk.params;
    std::printf("MMDiT: %.2fB random bf16 parameters on the GPU\n", dit_params / 1e9);
    Text te;
    Vae va;
    if (text) te = make_text(mk);
    if (vae) va = make_vae(mk);
    be.sync();

    for (const Size& sz : sizes) {
      const int64_t T = 256, L = (sz.h / 16) * (sz.w / 16);
      be.allocator().reset_peak();
      // Inputs: packed latents, context, timestep features (random; values do not change the cost).
      Tensor x = be.alloc({batch, L, dit.c.in_channels}, DType::F32), ctx = be.alloc({batch, T, dit.c.context_dim}, DType::F32),
             feat = be.alloc({batch, 256}, DType::F32);
      be.fill_random(x, 1.f, 11);
      be.fill_random(ctx, 1.f, 12);
      be.fill_random(feat, 1.f, 13);
      Tensor ids = host_f32({T + L, 3});
      for (int64_t j = 0; j < T; ++j) {
        float* r = ids.ptr<float>() + j * 3;
        r[0] = 0, r[1] = float(j), r[2] = float(j);
      }
      for (int64_t p = 0; p < L; ++p) {
        float* r = ids.ptr<float>() + (T + p) * 3;
        r[0] = 0, r[1] = float(p / (sz.w / 16)), r[2] = float(p % (sz.w / 16));
      }
      RopeTables rope = rope_axes_tables(be, ids, dit.c.axes_dims, dit.c.theta);
      const double ms_dit = time_ms(be, iters, [&] { dit_forward(be, dit, x, ctx, feat, rope); });
      const double flops = dit_flops(dit.c, batch, T, L);

      double ms_vae = 0, ms_text = 0;
      if (vae) {
        Tensor z = be.alloc({1, va.c.latent_channels, sz.h / 8, sz.w / 8}, DType::F32);
        be.fill_random(z, 1.f, 14);
        ms_vae = time_ms(be, 1, [&] { vae_decode(be, va, z); });
      }
      if (text) {
        const int64_t TT = 284;
        Tensor tid = host_alloc({2, TT}, DType::I32);
        Tensor tmask = host_f32({2, TT});
        for (int64_t i = 0; i < 2 * TT; ++i) {
          tid.ptr<int32_t>()[i] = int32_t((i * 7919) % te.c.vocab);
          tmask.ptr<float>()[i] = (i % TT) < 60 + 100 * (i / TT) ? 1.f : 0.f;
        }
        Tensor did = be.upload(tid), dmask = be.upload(tmask);
        RopeTables trope = rope_half_tables(be, TT, te.c.head_dim, te.c.rope_theta);
        ms_text = time_ms(be, iters, [&] { text_forward(be, te, did, dmask, trope); });
      }
      size_t free_b = 0, total_b = 0;
      CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
      // CFG runs both prompts as one batch of 2; a batch of 1 or > 2 is reported per forward as given.
      const double cfg_forwards = batch >= 2 ? 1.0 : 2.0;
      const double total_s = (steps * cfg_forwards * ms_dit + ms_vae + ms_text) / 1000.0;

      std::printf("\n### %lldx%lld, batch %lld (%lld image + %lld text tokens), %d iterations\n", (long long)sz.w,
                  (long long)sz.h, (long long)batch, (long long)L, (long long)T, iters);
      std::printf("| %-44s | %22s |\n| %s | %s |\n", "measure", "value", std::string(44, '-').c_str(), std::string(22, '-').c_str());
      row("MMDiT forward", fmt("%.1f ms", ms_dit));
      row("MMDiT achieved", fmt("%.0f TFLOP/s", flops / (ms_dit * 1e-3) / 1e12));
      row("MMDiT FLOPs per forward", fmt("%.3g", flops));
      if (vae) row("VAE decode (1 image)", fmt("%.1f ms", ms_vae));
      if (text) row("text encoding (2 x 284 tokens)", fmt("%.1f ms", ms_text));
      row(fmt("estimated total, %d steps x CFG", steps), fmt("%.2f s", total_s));
      row("allocator peak (this size)", fmt("%.0f MiB", be.allocator().peak() / 1048576.0));
      row("allocator reserved", fmt("%.0f MiB", be.allocator().reserved() / 1048576.0));
      row("cudaMemGetInfo used", fmt("%.0f MiB", (total_b - free_b) / 1048576.0));
      row("weights (all networks)", fmt("%.0f MiB", mk.params * 2 / 1048576.0));
      row("cudaMalloc calls so far", fmt("%.0f", double(be.allocator().malloc_calls())));
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "ovis_bench_gpu failed: %s: %s\n", e.code().c_str(), e.what());
    return 1;
  }
  return 0;
}
