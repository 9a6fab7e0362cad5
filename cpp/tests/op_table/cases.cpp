// The op-case table: small odd shapes (CI runs them on the CPU against the reference loops) and the
// full-size shapes of the model (GPU runs compare them with the CPU backend).
#include <cmath>
#include <cstdlib>
#include <string>
#include <random>

#include "op_case.h"
#include "reference.h"

namespace ovis::optable {

namespace {

constexpr int64_t kText = 256;  // text rows before the image rows in the MMDiT's joint sequence

// Uniform in [lo, hi), never exactly zero (a zero input could hide a kernel that skips its work).
Tensor rnd(const Shape& s, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  Tensor t = host_alloc(s, DType::F32);
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) {
    float v = d(g);
    t.ptr<float>()[i] = v == 0.f ? 1e-3f : v;
  }
  return t;
}

// Keys masked at the end of batch item 1 (padding), none in item 0.
Tensor padding_mask(int64_t B, int64_t S, int64_t padded) {
  Tensor m = host_alloc(Shape{B, S}, DType::F32);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < S; ++j) m.ptr<float>()[b * S + j] = (b % 2 == 1 && j >= S - padded) ? 0.f : 1.f;
  return m;
}

std::function<Segments(const Shape&)> by_batch() {
  return [](const Shape& o) { return Segments{o[0], 1, {}}; };
}
// Batch items x [text rows | image rows] when the sequence holds both, else x two halves.
std::function<Segments(const Shape&)> by_rows() {
  return [](const Shape& o) {
    const int64_t split = o[1] > kText ? kText : o[1] / 2;
    return Segments{o[0], o[1], split > 0 ? std::vector<int64_t>{split} : std::vector<int64_t>{}};
  };
}

double n(const Shape& s) { return double(s.numel()); }

OpCase make_case(const std::string& op, const std::string& label, double work, bool flops) {
  OpCase c;
  c.op = op;
  c.label = label;
  c.work = work;
  c.flops = flops;
  c.segments = by_batch();
  return c;
}

void linear_cases(std::vector<OpCase>& out) {
  struct L {
    Shape x;
    int64_t N;
    bool bias;
  };
  for (const L& l : {L{{3, 37, 64}, 48, true}, L{{2, 271, 96}, 80, false}, L{{1, 284, 2048}, 6144, false},
                     L{{2, 4352, 3072}, 3072, true}, L{{2, 4352, 3072}, 12288 * 2, false}}) {
    const int64_t K = l.x[-1], M = int64_t(n(l.x)) / K;
    OpCase c = make_case(
        "linear", l.x.str() + " x [" + std::to_string(l.N) + ", " + std::to_string(K) + "]" + (l.bias ? " + bias" : ""),
        2.0 * M * l.N * K, true);
    c.make = [l, K](uint32_t s) {
      std::vector<Input> in{{rnd(l.x, s)}, {rnd(Shape{l.N, K}, s + 1, -0.05f, 0.05f), true}};
      if (l.bias) in.push_back({rnd(Shape{l.N}, s + 2), true});
      return in;
    };
    c.run = [](Backend& be, std::vector<Tensor>& t) { return be.linear(t[0], t[1], t.size() > 2 ? &t[2] : nullptr); };
    c.reference = [](const std::vector<Input>& in) {
      return ref::linear(in[0].host, in[1].host, in.size() > 2 ? &in[2].host : nullptr);
    };
    c.segments = by_rows();
    out.push_back(c);
  }
}

void elementwise_cases(std::vector<OpCase>& out) {
  {  // sizes a multiple of 8 at a small size: the 16-byte vector paths of the CUDA kernels
    const Shape s{3, 19, 48};
    OpCase si = make_case("silu", s.str() + " (multiple of 8)", 8 * n(s), false);
    si.make = [s](uint32_t sd) { return std::vector<Input>{{rnd(s, sd, -6.f, 6.f)}}; };
    si.run = [](Backend& be, std::vector<Tensor>& t) { return be.silu(t[0]); };
    si.reference = [](const std::vector<Input>& in) { return ref::silu(in[0].host); };
    out.push_back(si);
    OpCase sw = make_case("swiglu", s.str() + " (F multiple of 8)", 6 * n(s), false);
    sw.make = [s](uint32_t sd) { return std::vector<Input>{{rnd(s, sd, -4.f, 4.f)}}; };
    sw.run = [](Backend& be, std::vector<Tensor>& t) { return be.swiglu(t[0]); };
    sw.reference = [](const std::vector<Input>& in) { return ref::swiglu(in[0].host); };
    out.push_back(sw);
  }
  for (const Shape& s : {Shape{2, 37, 33}, Shape{2, 4352, 3072}}) {
    OpCase si = make_case("silu", s.str(), 8 * n(s), false);
    si.make = [s](uint32_t sd) { return std::vector<Input>{{rnd(s, sd, -6.f, 6.f)}}; };
    si.run = [](Backend& be, std::vector<Tensor>& t) { return be.silu(t[0]); };
    si.reference = [](const std::vector<Input>& in) { return ref::silu(in[0].host); };
    out.push_back(si);

    Shape even = s;  // [up | gate] halves
    even[-1] += even[-1] % 2;
    OpCase sw = make_case("swiglu", even.str(), 6 * n(even), false);
    sw.make = [even](uint32_t sd) { return std::vector<Input>{{rnd(even, sd, -4.f, 4.f)}}; };
    sw.run = [](Backend& be, std::vector<Tensor>& t) { return be.swiglu(t[0]); };
    sw.reference = [](const std::vector<Input>& in) { return ref::swiglu(in[0].host); };
    out.push_back(sw);

    OpCase ad = make_case("add_", s.str(), 12 * n(s), false);
    ad.make = [s](uint32_t sd) { return std::vector<Input>{{rnd(s, sd)}, {rnd(s, sd + 1)}}; };
    ad.run = [](Backend& be, std::vector<Tensor>& t) { return be.add_(t[0], t[1]), t[0]; };
    ad.reference = [](const std::vector<Input>& in) { return ref::axpby(in[0].host, 1, in[1].host, 1); };
    ad.segments = by_rows();
    out.push_back(ad);

    OpCase ax = make_case("axpby_", s.str(), 12 * n(s), false);
    ax.make = ad.make;
    ax.run = [](Backend& be, std::vector<Tensor>& t) { return be.axpby_(t[0], 0.75f, t[1], -0.3f), t[0]; };
    ax.reference = [](const std::vector<Input>& in) { return ref::axpby(in[0].host, 0.75, in[1].host, -0.3); };
    out.push_back(ax);

    OpCase ga = make_case("gated_add_", s.str(), 12 * n(s), false);
    ga.make = [s](uint32_t sd) {
      return std::vector<Input>{{rnd(s, sd)}, {rnd(Shape{s[0], s[2]}, sd + 1)}, {rnd(s, sd + 2)}};
    };
    ga.run = [](Backend& be, std::vector<Tensor>& t) { return be.gated_add_(t[0], t[1], t[2]), t[0]; };
    ga.reference = [](const std::vector<Input>& in) { return ref::gated_add(in[0].host, in[1].host, in[2].host); };
    ga.segments = by_rows();
    out.push_back(ga);

    OpCase ca = make_case("cast", s.str() + " f32 -> bf16", 6 * n(s), false);
    ca.make = [s](uint32_t sd) { return std::vector<Input>{{rnd(s, sd, -100.f, 100.f)}}; };
    ca.run = [](Backend& be, std::vector<Tensor>& t) { return be.cast(t[0], DType::BF16); };
    ca.reference = [](const std::vector<Input>& in) { return ref::values(in[0].host); };
    ca.tol_scale = 300;  // the result is bf16 by definition: 2^-9 relative
    out.push_back(ca);
  }
}

void norm_cases(std::vector<OpCase>& out) {
  for (const Shape& s : {Shape{2, 271, 96}, Shape{2, 4352, 3072}}) {
    OpCase ln = make_case("layer_norm_mod", s.str(), 12 * n(s), false);
    ln.make = [s](uint32_t sd) {
      return std::vector<Input>{
          {rnd(s, sd, -3.f, 5.f)}, {rnd(Shape{s[0], s[2]}, sd + 1)}, {rnd(Shape{s[0], s[2]}, sd + 2)}};
    };
    ln.run = [](Backend& be, std::vector<Tensor>& t) { return be.layer_norm_mod(t[0], &t[1], &t[2], 1e-6f); };
    ln.reference = [](const std::vector<Input>& in) {
      return ref::layer_norm_mod(in[0].host, &in[1].host, &in[2].host, 1e-6);
    };
    ln.segments = by_rows();
    out.push_back(ln);
  }
  for (const Shape& s : {Shape{2, 284, 16, 128}, Shape{2, 37, 3, 40}}) {
    OpCase rm = make_case("rms_norm", s.str(), 12 * n(s), false);
    rm.make = [s](uint32_t sd) {
      return std::vector<Input>{{rnd(s, sd, -2.f, 3.f)}, {rnd(Shape{s[-1]}, sd + 1), true}};
    };
    rm.run = [](Backend& be, std::vector<Tensor>& t) { return be.rms_norm(t[0], t[1], 1e-6f); };
    rm.reference = [](const std::vector<Input>& in) { return ref::rms_norm(in[0].host, in[1].host, 1e-6); };
    rm.segments = by_rows();
    out.push_back(rm);
  }
  struct G {
    Shape x;
    bool silu;
  };
  for (const G& g : {G{{2, 64, 9, 11}, true}, G{{1, 128, 30, 17}, false}, G{{1, 512, 128, 128}, true},
                     G{{1, 128, 1024, 1024}, true}}) {
    OpCase gn = make_case("group_norm", g.x.str() + (g.silu ? " + silu" : ""), 12 * n(g.x), false);
    gn.make = [g](uint32_t sd) {
      return std::vector<Input>{
          {rnd(g.x, sd, -2.f, 6.f)}, {rnd(Shape{g.x[1]}, sd + 1), true}, {rnd(Shape{g.x[1]}, sd + 2), true}};
    };
    gn.run = [g](Backend& be, std::vector<Tensor>& t) { return be.group_norm(t[0], t[1], t[2], 32, 1e-6f, g.silu); };
    gn.reference = [g](const std::vector<Input>& in) {
      return ref::group_norm(in[0].host, in[1].host, in[2].host, 32, 1e-6, g.silu);
    };
    out.push_back(gn);
  }
}

void rope_cases(std::vector<OpCase>& out) {
  for (const Shape& s : {Shape{2, 271, 3, 16}, Shape{1, 284, 16, 128}, Shape{2, 4352, 24, 128}})
    for (bool inter : {true, false}) {
      OpCase c = make_case(inter ? "rope_interleaved_" : "rope_half_", s.str(), 12 * n(s), false);
      c.make = [s](uint32_t sd) {
        const Shape cs{s[1], s[3] / 2};
        Tensor ang = rnd(cs, sd + 1, -3.2f, 3.2f), co = host_alloc(cs, DType::F32), si = host_alloc(cs, DType::F32);
        for (int64_t i = 0; i < ang.numel(); ++i)
          co.ptr<float>()[i] = std::cos(ang.ptr<float>()[i]), si.ptr<float>()[i] = std::sin(ang.ptr<float>()[i]);
        return std::vector<Input>{{rnd(s, sd)}, {co}, {si}};
      };
      c.run = [inter](Backend& be, std::vector<Tensor>& t) {
        if (inter)
          be.rope_interleaved_(t[0], t[1], t[2]);
        else
          be.rope_half_(t[0], t[1], t[2]);
        return t[0];
      };
      c.reference = [inter](const std::vector<Input>& in) {
        return ref::rope(in[0].host, in[1].host, in[2].host, inter);
      };
      c.segments = by_rows();
      out.push_back(c);
    }
}

struct AttentionShape {
  int64_t B, Sq, Sk, Hq, Hkv, hd;
  bool causal;
  int64_t padded;
  const char* what;
};

// Sets OVIS_ATTENTION for one call and restores it after: the CUDA backend picks its tensor-core
// attention kernel from it (cuda/attention.cpp); other backends ignore it.
class ScopedAttentionKernel {
 public:
  explicit ScopedAttentionKernel(const char* kernel) : active_(kernel != nullptr) {
    if (!active_) return;
    const char* old = std::getenv("OVIS_ATTENTION");
    had_ = old != nullptr;
    if (had_) old_ = old;
    setenv("OVIS_ATTENTION", kernel, 1);
  }
  ~ScopedAttentionKernel() {
    if (!active_) return;
    if (had_)
      setenv("OVIS_ATTENTION", old_.c_str(), 1);
    else
      unsetenv("OVIS_ATTENTION");
  }

 private:
  bool active_, had_ = false;
  std::string old_;
};

// op "attention" runs the default kernel; "attention_mma" the mma.sync one (OVIS_ATTENTION=mma).
void add_attention_cases(std::vector<OpCase>& out, const std::vector<AttentionShape>& shapes, const char* kernel) {
  for (const AttentionShape& a : shapes) {
    const double flop = 4.0 * a.B * a.Hq * a.Sq * a.Sk * a.hd * (a.causal ? 0.5 : 1.0);
    OpCase c = make_case(kernel ? std::string("attention_") + kernel : std::string("attention"),
                         std::string(a.what) + " B" + std::to_string(a.B) + " S" + std::to_string(a.Sq) + " H" +
                             std::to_string(a.Hq) + "/" + std::to_string(a.Hkv) + " hd" + std::to_string(a.hd),
                         flop, true);
    c.make = [a](uint32_t sd) {
      std::vector<Input> in{{rnd(Shape{a.B, a.Sq, a.Hq, a.hd}, sd, -2.f, 2.f)},
                            {rnd(Shape{a.B, a.Sk, a.Hkv, a.hd}, sd + 1, -2.f, 2.f)},
                            {rnd(Shape{a.B, a.Sk, a.Hkv, a.hd}, sd + 2)}};
      if (a.padded) in.push_back({padding_mask(a.B, a.Sk, a.padded)});
      return in;
    };
    const float scale = float(1.0 / std::sqrt(double(a.hd)));
    c.run = [a, scale, kernel](Backend& be, std::vector<Tensor>& t) {
      ScopedAttentionKernel choice(kernel);
      return be.attention(t[0], t[1], t[2], scale, a.causal, t.size() > 3 ? &t[3] : nullptr);
    };
    c.reference = [a, scale](const std::vector<Input>& in) {
      return ref::attention(in[0].host, in[1].host, in[2].host, scale, a.causal, in.size() > 3 ? &in[3].host : nullptr);
    };
    c.segments = by_rows();
    out.push_back(c);
  }
}

void attention_cases(std::vector<OpCase>& out) {
  using A = AttentionShape;
  const std::vector<A> tensor_core{A{2, 271, 271, 2, 2, 128, false, 0, "MMDiT 48x80 image"},
                                   A{1, 284, 284, 16, 8, 128, true, 0, "Qwen3 causal + GQA"},
                                   A{2, 284, 284, 16, 8, 128, true, 200, "Qwen3 causal + padding mask + GQA"},
                                   A{2, 70, 45, 4, 2, 128, false, 45, "Sq != Sk, item 1 all masked"},
                                   A{2, 33, 21, 2, 2, 80, false, 5, "head_dim 80"},
                                   A{2, 4352, 4352, 2, 2, 128, false, 0, "MMDiT 1024^2 (2 of 24 heads)"},
                                   A{2, 4353, 4353, 2, 2, 128, false, 0, "MMDiT 1024^2 + 1 (odd tile)"}};
  std::vector<A> all = tensor_core;
  all.push_back(A{1, 256, 256, 1, 1, 512, false, 0, "VAE 16x16 latent"});
  all.push_back(A{1, 16384, 16384, 1, 1, 512, false, 0, "VAE 128x128 latent"});
  add_attention_cases(out, all, nullptr);
  std::vector<A> mma = tensor_core;  // plus the small head dims the tiny test models use
  mma.push_back(A{2, 77, 77, 4, 2, 64, true, 60, "head_dim 64, causal + mask + GQA"});
  mma.push_back(A{2, 65, 130, 2, 1, 32, false, 0, "head_dim 32, Sk = 2 tiles + 2"});
  add_attention_cases(out, mma, "mma");
}

void conv_cases(std::vector<OpCase>& out) {
  struct C {
    Shape x;
    int64_t Co, k;
    int stride, pt, pl, pb, pr;
    const char* what;
  };
  for (const C& v : {C{{2, 8, 13, 11}, 6, 3, 1, 1, 1, 1, 1, "3x3 pad 1"},
                     C{{1, 6, 15, 16}, 5, 3, 2, 0, 0, 1, 1, "stride 2, pad (0,1,0,1)"},
                     C{{2, 12, 7, 9}, 10, 1, 1, 0, 0, 0, 0, "1x1"},
                     C{{2, 128, 32, 32}, 3, 3, 1, 1, 1, 1, 1, "conv_out, 3 channels, batch 2"},
                     C{{1, 32, 37, 41}, 24, 3, 1, 1, 1, 1, 1, "Winograd F(4x2,3x3), odd sizes"},
                     C{{1, 260, 9, 21}, 256, 3, 1, 1, 1, 1, 1, "Winograd, one GEMM per position"},
                     C{{1, 512, 176, 176}, 512, 3, 1, 1, 1, 1, 1, "multi-chunk im2row"},
                     C{{2, 128, 512, 512}, 3, 3, 1, 1, 1, 1, 1, "conv_out 512^2, batch 2"}}) {
    const int64_t Ho = (v.x[2] + v.pt + v.pb - v.k) / v.stride + 1, Wo = (v.x[3] + v.pl + v.pr - v.k) / v.stride + 1;
    OpCase c = make_case("conv2d", std::string(v.what) + " " + v.x.str() + " -> " + std::to_string(v.Co),
                         2.0 * v.x[0] * v.Co * Ho * Wo * v.x[1] * v.k * v.k, true);
    c.make = [v](uint32_t sd) {
      return std::vector<Input>{{rnd(v.x, sd)},
                                {rnd(Shape{v.Co, v.x[1], v.k, v.k}, sd + 1, -0.1f, 0.1f), true},
                                {rnd(Shape{v.Co}, sd + 2), true}};
    };
    c.run = [v](Backend& be, std::vector<Tensor>& t) {
      return be.conv2d(t[0], t[1], &t[2], v.stride, v.pt, v.pl, v.pb, v.pr);
    };
    c.reference = [v](const std::vector<Input>& in) {
      return ref::conv2d(in[0].host, in[1].host, &in[2].host, v.stride, v.pt, v.pl, v.pb, v.pr);
    };
    out.push_back(c);
  }
}

void layout_cases(std::vector<OpCase>& out) {
  const Tensor ids = [] {
    Tensor t = host_alloc(Shape{2, 7}, DType::I32);
    for (int i = 0; i < 14; ++i) t.ptr<int32_t>()[i] = (i * 37 + 5) % 50;
    return t;
  }();
  OpCase em = make_case("embedding", "[2, 7] ids into [50, 24]", 14 * 24 * 8.0, false);
  em.make = [ids](uint32_t sd) { return std::vector<Input>{{rnd(Shape{50, 24}, sd), true}, {ids}}; };
  em.run = [](Backend& be, std::vector<Tensor>& t) { return be.embedding(t[0], t[1]); };
  em.reference = [](const std::vector<Input>& in) { return ref::embedding(in[0].host, in[1].host); };
  out.push_back(em);
  for (const Shape& s : {Shape{2, 5, 7, 9}, Shape{1, 512, 128, 128}}) {
    OpCase up = make_case("upsample_nearest2x", s.str(), 20 * n(s), false);
    up.make = [s](uint32_t sd) { return std::vector<Input>{{rnd(s, sd)}}; };
    up.run = [](Backend& be, std::vector<Tensor>& t) { return be.upsample_nearest2x(t[0]); };
    up.reference = [](const std::vector<Input>& in) { return ref::upsample2x(in[0].host); };
    out.push_back(up);

    OpCase tr = make_case("transpose_last2", s.str(), 8 * n(s), false);
    tr.make = up.make;
    tr.run = [](Backend& be, std::vector<Tensor>& t) { return be.transpose_last2(t[0]); };
    tr.reference = [](const std::vector<Input>& in) { return ref::transpose_last2(in[0].host); };
    out.push_back(tr);

    OpCase sl = make_case("slice", s.str() + " axis 1", 8 * n(s) / 2, false);
    sl.make = up.make;
    sl.run = [s](Backend& be, std::vector<Tensor>& t) { return be.slice(t[0], 1, 1, s[1] / 2); };
    sl.reference = [s](const std::vector<Input>& in) { return ref::slice(in[0].host, 1, 1, s[1] / 2); };
    out.push_back(sl);

    OpCase cc = make_case("concat", s.str() + " axis 1", 16 * n(s), false);
    cc.make = [s](uint32_t sd) { return std::vector<Input>{{rnd(s, sd)}, {rnd(s, sd + 1)}}; };
    cc.run = [](Backend& be, std::vector<Tensor>& t) { return be.concat(t[0], t[1], 1); };
    cc.reference = [](const std::vector<Input>& in) { return ref::concat(in[0].host, in[1].host, 1); };
    cc.segments = by_rows();
    out.push_back(cc);
  }
}

}  // namespace

std::vector<OpCase> all_cases() {
  std::vector<OpCase> out;
  linear_cases(out);
  elementwise_cases(out);
  norm_cases(out);
  rope_cases(out);
  attention_cases(out);
  conv_cases(out);
  layout_cases(out);
  return out;
}

}  // namespace ovis::optable
