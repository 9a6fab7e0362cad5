#include "model/qwen3.h"

#include <cmath>

#include "core/error.h"
#include "engine.h"
#include "model/rope.h"

namespace ovis {

Qwen3::Qwen3(const TextConfig& c, const WeightBinder& wb) : c_(c) {
  const int64_t H = c.hidden, hd = c.head_dim, I = c.intermediate;
  const int64_t q_dim = int64_t(c.heads) * hd, kv_dim = int64_t(c.kv_heads) * hd;
  embed_ = &wb.need("te.embed.weight", {c.vocab, H});
  for (int i = 0; i < c.layers; ++i) {
    const std::string p = "te.layers." + std::to_string(i) + ".";
    Layer l;
    l.attn_norm = bind_vector(wb, p + "attn_norm.weight", H);
    l.qkv = bind_linear(wb, p + "qkv", q_dim + 2 * kv_dim, H, false).w;
    l.q_norm = bind_vector(wb, p + "q_norm.weight", hd);
    l.k_norm = bind_vector(wb, p + "k_norm.weight", hd);
    l.o = bind_linear(wb, p + "o", H, q_dim, false).w;
    l.mlp_norm = bind_vector(wb, p + "mlp_norm.weight", H);
    l.mlp_in = bind_linear(wb, p + "mlp_in", 2 * I, H, false).w;  // [up; gate]
    l.mlp_out = bind_linear(wb, p + "mlp_out", H, I, false).w;
    layers_.push_back(l);
  }
  norm_ = bind_vector(wb, "te.norm.weight", H);
}

Tensor Qwen3::forward(Backend& be, const Tensor& ids, const Tensor& mask, const std::atomic<bool>* cancel) const {
  OVIS_CHECK_ARG(ids.shape.rank == 2 && ids.dtype == DType::I32,
                 "token ids must be I32 [B, T], got " + ids.shape.str());
  OVIS_CHECK_ARG(mask.shape == ids.shape,
                 "attention mask must match the ids " + ids.shape.str() + ", got " + mask.shape.str());
  const int64_t B = ids.shape[0], T = ids.shape[1], hd = c_.head_dim;
  const int64_t q_dim = int64_t(c_.heads) * hd, kv_dim = int64_t(c_.kv_heads) * hd;
  const RopeTables rope = rope_half_tables(be, T, c_.head_dim, c_.rope_theta);
  const float scale = 1.0f / std::sqrt(float(hd));

  Tensor h = be.embedding(*embed_, ids);
  for (const Layer& l : layers_) {
    check_cancel(cancel);
    {
      Tensor qkv = be.linear(be.rms_norm(h, *l.attn_norm, c_.eps), *l.qkv, nullptr);
      Tensor q = be.rms_norm(be.slice(qkv, 2, 0, q_dim).view({B, T, c_.heads, hd}), *l.q_norm, c_.eps);
      Tensor k = be.rms_norm(be.slice(qkv, 2, q_dim, kv_dim).view({B, T, c_.kv_heads, hd}), *l.k_norm, c_.eps);
      Tensor v = be.slice(qkv, 2, q_dim + kv_dim, kv_dim).view({B, T, c_.kv_heads, hd});
      qkv = Tensor{};
      be.rope_half_(q, rope.cos, rope.sin);
      be.rope_half_(k, rope.cos, rope.sin);
      Tensor a = be.attention(q, k, v, scale, true, &mask).view({B, T, q_dim});
      be.add_(h, be.linear(a, *l.o, nullptr));
    }
    {
      Tensor m = be.rms_norm(h, *l.mlp_norm, c_.eps);
      be.add_(h, be.linear(be.swiglu(be.linear(m, *l.mlp_in, nullptr)), *l.mlp_out, nullptr));
    }
  }
  check_cancel(cancel);
  return be.rms_norm(h, *norm_, c_.eps);
}

}  // namespace ovis
