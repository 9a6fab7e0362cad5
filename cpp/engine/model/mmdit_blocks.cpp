// The MMDiT's double-stream and single-stream blocks (docs/MODEL.md steps 4 and 5).
#include <cmath>

#include "model/mmdit.h"

namespace ovis {

namespace {

Tensor apply(Backend& be, const LinearW& l, const Tensor& x) { return be.linear(x, *l.w, l.b); }

// Chunk k of a modulation tensor [B, n*D].
Tensor chunk(Backend& be, const Tensor& mod, int k, int64_t D) { return be.slice(mod, 1, k * D, D); }

// Cuts [B, S, ...] columns [start, start+len) of the last dim into [B, S, H, hd] heads.
Tensor heads(Backend& be, const Tensor& x, int64_t start, const DitConfig& c) {
  const int64_t B = x.shape[0], S = x.shape[1];
  return be.slice(x, 2, start, c.dim()).view({B, S, c.num_heads, c.head_dim});
}

struct QKV {
  Tensor q, k, v;
};

QKV project_qkv(Backend& be, const DitConfig& c, const Tensor& fused, const Tensor& q_norm, const Tensor& k_norm) {
  const int64_t D = c.dim();
  return {be.rms_norm(heads(be, fused, 0, c), q_norm, c.eps), be.rms_norm(heads(be, fused, D, c), k_norm, c.eps),
          heads(be, fused, 2 * D, c)};
}

}  // namespace

Tensor dit_attention(Backend& be, const DitConfig& c, Tensor& q, Tensor& k, const Tensor& v, const RopeTables& rope) {
  be.rope_interleaved_(q, rope.cos, rope.sin);
  be.rope_interleaved_(k, rope.cos, rope.sin);
  Tensor a = be.attention(q, k, v, 1.0f / std::sqrt(float(c.head_dim)), false, nullptr);
  return a.view({a.shape[0], a.shape[1], c.dim()});
}

void dit_double_block(Backend& be, const DitConfig& c, const DitDoubleW& w, Tensor& img, Tensor& txt,
                      const Tensor& silu_temb, const RopeTables& rope) {
  const int64_t D = c.dim(), T = txt.shape[1], L = img.shape[1];
  Tensor img_mod = apply(be, w.img.mod, silu_temb), txt_mod = apply(be, w.txt.mod, silu_temb);
  Tensor i_shift1 = chunk(be, img_mod, 0, D), i_scale1 = chunk(be, img_mod, 1, D);
  Tensor t_shift1 = chunk(be, txt_mod, 0, D), t_scale1 = chunk(be, txt_mod, 1, D);

  QKV qi, qt;
  {
    Tensor n = be.layer_norm_mod(img, &i_shift1, &i_scale1, c.eps);
    qi = project_qkv(be, c, apply(be, w.img.qkv, n), *w.img.q_norm, *w.img.k_norm);
  }
  {
    Tensor n = be.layer_norm_mod(txt, &t_shift1, &t_scale1, c.eps);
    qt = project_qkv(be, c, apply(be, w.txt.qkv, n), *w.txt.q_norm, *w.txt.k_norm);
  }
  Tensor q = be.concat(qt.q, qi.q, 1), k = be.concat(qt.k, qi.k, 1), v = be.concat(qt.v, qi.v, 1);
  qi = qt = QKV{};
  Tensor a = dit_attention(be, c, q, k, v, rope);

  // Each stream: s += gate1 * proj(attn); s += gate2 * FF(LN(s) * (1 + scale2) + shift2).
  auto finish = [&](const DitStreamW& sw, const Tensor& mod, Tensor& s, int64_t start, int64_t len) {
    Tensor out = apply(be, sw.proj, be.slice(a, 1, start, len));
    be.gated_add_(s, chunk(be, mod, 2, D), out);
    Tensor shift2 = chunk(be, mod, 3, D), scale2 = chunk(be, mod, 4, D);
    Tensor n = be.layer_norm_mod(s, &shift2, &scale2, c.eps);
    Tensor ff = apply(be, sw.mlp_out, be.swiglu(apply(be, sw.mlp_in, n)));
    be.gated_add_(s, chunk(be, mod, 5, D), ff);
  };
  finish(w.img, img_mod, img, T, L);
  finish(w.txt, txt_mod, txt, 0, T);
}

void dit_single_block(Backend& be, const DitConfig& c, const DitSingleW& w, Tensor& h, const Tensor& silu_temb,
                      const RopeTables& rope) {
  const int64_t D = c.dim(), F = c.mlp_hidden;
  Tensor mod = apply(be, w.mod, silu_temb);
  Tensor shift = chunk(be, mod, 0, D), scale = chunk(be, mod, 1, D);
  Tensor n = be.layer_norm_mod(h, &shift, &scale, c.eps);
  Tensor fused = apply(be, w.linear1, n);  // [B, S, 3D + 2F] = [q; k; v; up; gate]
  n = Tensor{};
  QKV qkv = project_qkv(be, c, fused, *w.q_norm, *w.k_norm);
  Tensor mlp = be.swiglu(be.slice(fused, 2, 3 * D, 2 * F));
  fused = Tensor{};
  Tensor a = dit_attention(be, c, qkv.q, qkv.k, qkv.v, rope);
  qkv = QKV{};
  Tensor out = apply(be, w.linear2, be.concat(a, mlp, 2));
  be.gated_add_(h, chunk(be, mod, 2, D), out);
}

}  // namespace ovis
