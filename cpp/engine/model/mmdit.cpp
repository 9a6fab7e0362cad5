#include "model/mmdit.h"

#include "core/error.h"
#include "engine.h"
#include "model/timestep.h"

namespace ovis {

namespace {

LinearW linear_w(const WeightStore& ws, const std::string& name, int64_t out, int64_t in) {
  return {&ws.get(name + ".weight", {out, in}), &ws.get(name + ".bias", {out})};
}

DitStreamW stream_w(const WeightStore& ws, const std::string& p, const DitConfig& c) {
  const int64_t D = c.dim(), F = c.mlp_hidden, hd = c.head_dim;
  DitStreamW s;
  s.mod = linear_w(ws, p + ".mod", 6 * D, D);
  s.qkv = linear_w(ws, p + ".qkv", 3 * D, D);
  s.q_norm = &ws.get(p + ".q_norm.weight", {hd});
  s.k_norm = &ws.get(p + ".k_norm.weight", {hd});
  s.proj = linear_w(ws, p + ".proj", D, D);
  s.mlp_in = linear_w(ws, p + ".mlp_in", 2 * F, D);
  s.mlp_out = linear_w(ws, p + ".mlp_out", D, F);
  return s;
}

// The time-embedding input width is whatever the checkpoint's first time Linear takes (256 in Ovis-Image).
int64_t time_features_dim(const WeightStore& ws) {
  const Tensor& w = ws.get("dit.time_in.0.weight");
  if (w.shape.rank != 2) fail("OVIS_BAD_WEIGHTS", "tensor dit.time_in.0.weight must be 2-D, got " + w.shape.str());
  return w.shape[1];
}

}  // namespace

MMDiT::MMDiT(const DitConfig& config, const WeightStore& ws) : c_(config) {
  const int64_t D = c_.dim();
  img_in_ = linear_w(ws, "dit.img_in", D, c_.in_channels);
  txt_norm_ = &ws.get("dit.txt_norm.weight", {c_.context_dim});
  txt_in_ = linear_w(ws, "dit.txt_in", D, c_.context_dim);
  time0_ = linear_w(ws, "dit.time_in.0", D, time_features_dim(ws));
  time1_ = linear_w(ws, "dit.time_in.1", D, D);
  for (int i = 0; i < c_.num_double; ++i) {
    const std::string p = "dit.double." + std::to_string(i);
    double_.push_back({stream_w(ws, p + ".img", c_), stream_w(ws, p + ".txt", c_)});
  }
  for (int i = 0; i < c_.num_single; ++i) {
    const std::string p = "dit.single." + std::to_string(i);
    DitSingleW s;
    s.mod = linear_w(ws, p + ".mod", 3 * D, D);
    s.linear1 = linear_w(ws, p + ".linear1", 3 * D + 2 * int64_t(c_.mlp_hidden), D);
    s.q_norm = &ws.get(p + ".q_norm.weight", {c_.head_dim});
    s.k_norm = &ws.get(p + ".k_norm.weight", {c_.head_dim});
    s.linear2 = linear_w(ws, p + ".linear2", D, D + c_.mlp_hidden);
    single_.push_back(s);
  }
  final_mod_ = linear_w(ws, "dit.final.mod", 2 * D, D);
  final_linear_ = linear_w(ws, "dit.final.linear", c_.out_channels, D);
}

RopeTables MMDiT::rope(Backend& be, const Tensor& txt_ids, const Tensor& img_ids) const {
  const int n_axes = int(c_.axes_dims.size());
  OVIS_CHECK_ARG(txt_ids.shape.rank == 2 && txt_ids.shape[1] == n_axes && txt_ids.dtype == DType::F32,
                 "txt_ids must be F32 [T, " + std::to_string(n_axes) + "], got " + txt_ids.shape.str());
  OVIS_CHECK_ARG(img_ids.shape.rank == 2 && img_ids.shape[1] == n_axes && img_ids.dtype == DType::F32,
                 "img_ids must be F32 [L, " + std::to_string(n_axes) + "], got " + img_ids.shape.str());
  const int64_t T = txt_ids.shape[0], L = img_ids.shape[0];
  Tensor ids = host_f32({T + L, n_axes});
  convert_to_f32(txt_ids.data, DType::F32, ids.ptr<float>(), size_t(T * n_axes));
  convert_to_f32(img_ids.data, DType::F32, ids.ptr<float>() + T * n_axes, size_t(L * n_axes));
  return rope_axes_tables(be, ids, c_.axes_dims, c_.theta);
}

Tensor MMDiT::forward(Backend& be, const Tensor& x, const Tensor& ctx, const std::vector<float>& sigmas,
                      const RopeTables& rope, const CancelFlag* cancel) const {
  OVIS_CHECK_ARG(x.shape.rank == 3 && x.shape[2] == c_.in_channels,
                 "MMDiT input must be [B, L, " + std::to_string(c_.in_channels) + "], got " + x.shape.str());
  const int64_t B = x.shape[0], L = x.shape[1];
  OVIS_CHECK_ARG(ctx.shape.rank == 3 && ctx.shape[0] == B && ctx.shape[2] == c_.context_dim,
                 "MMDiT context must be [" + std::to_string(B) + ", T, " + std::to_string(c_.context_dim) +
                     "], got " + ctx.shape.str());
  const int64_t T = ctx.shape[1];
  OVIS_CHECK_ARG(int64_t(sigmas.size()) == B, "MMDiT needs one timestep per batch row");
  OVIS_CHECK_ARG(rope.cos.shape.rank == 2 && rope.cos.shape[0] == T + L,
                 "MMDiT position tables cover " + std::to_string(rope.cos.shape[0]) + " tokens, need " +
                     std::to_string(T + L));

  Tensor img = be.linear(x, *img_in_.w, img_in_.b);
  Tensor txt = be.linear(be.rms_norm(ctx, *txt_norm_, c_.eps), *txt_in_.w, txt_in_.b);

  Tensor features = be.upload(timestep_features(sigmas, int(time0_.w->shape[1])));
  Tensor temb = be.linear(be.silu(be.linear(features, *time0_.w, time0_.b)), *time1_.w, time1_.b);
  // Every modulation Linear reads SiLU(temb): compute it once.
  Tensor silu_temb = be.silu(temb);

  for (const DitDoubleW& w : double_) {
    check_cancel(cancel);
    dit_double_block(be, c_, w, img, txt, silu_temb, rope);
  }
  Tensor h = be.concat(txt, img, 1);
  for (const DitSingleW& w : single_) {
    check_cancel(cancel);
    dit_single_block(be, c_, w, h, silu_temb, rope);
  }
  check_cancel(cancel);
  Tensor img_out = be.slice(h, 1, T, L);
  const int64_t D = c_.dim();
  Tensor mod = be.linear(silu_temb, *final_mod_.w, final_mod_.b);  // [B, 2D] = [shift; scale]
  Tensor shift = be.slice(mod, 1, 0, D), scale = be.slice(mod, 1, D, D);
  Tensor n = be.layer_norm_mod(img_out, &shift, &scale, c_.eps);
  return be.linear(n, *final_linear_.w, final_linear_.b);
}

}  // namespace ovis
