#include "model/mmdit.h"

#include "core/error.h"
#include "engine.h"
#include "model/timestep.h"

namespace ovis {

namespace {

DitStreamW bind_stream(const WeightBinder& wb, const std::string& p, const DitConfig& c) {
  const int64_t D = c.dim(), F = c.mlp_hidden, hd = c.head_dim;
  DitStreamW s;
  s.mod = bind_linear(wb, p + ".mod", 6 * D, D);
  s.qkv = bind_linear(wb, p + ".qkv", 3 * D, D);
  s.q_norm = bind_vector(wb, p + ".q_norm.weight", hd);
  s.k_norm = bind_vector(wb, p + ".k_norm.weight", hd);
  s.proj = bind_linear(wb, p + ".proj", D, D);
  s.mlp_in = bind_linear(wb, p + ".mlp_in", 2 * F, D);  // [up; gate]
  s.mlp_out = bind_linear(wb, p + ".mlp_out", D, F);
  return s;
}

DitSingleW bind_single(const WeightBinder& wb, const std::string& p, const DitConfig& c) {
  const int64_t D = c.dim(), F = c.mlp_hidden, hd = c.head_dim;
  DitSingleW s;
  s.mod = bind_linear(wb, p + ".mod", 3 * D, D);
  s.linear1 = bind_linear(wb, p + ".linear1", 3 * D + 2 * F, D);  // [q; k; v; up; gate]
  s.q_norm = bind_vector(wb, p + ".q_norm.weight", hd);
  s.k_norm = bind_vector(wb, p + ".k_norm.weight", hd);
  s.linear2 = bind_linear(wb, p + ".linear2", D, D + F);
  return s;
}

}  // namespace

MMDiT::MMDiT(const DitConfig& config, const WeightBinder& wb) : c_(config) {
  const int64_t D = c_.dim();
  img_in_ = bind_linear(wb, "dit.img_in", D, c_.in_channels);
  txt_norm_ = bind_vector(wb, "dit.txt_norm.weight", c_.context_dim);
  txt_in_ = bind_linear(wb, "dit.txt_in", D, c_.context_dim);
  time0_ = bind_linear(wb, "dit.time_in.0", D, kTimestepFeatures);
  time1_ = bind_linear(wb, "dit.time_in.1", D, D);
  for (int i = 0; i < c_.num_double; ++i) {
    const std::string p = "dit.double." + std::to_string(i);
    double_.push_back({bind_stream(wb, p + ".img", c_), bind_stream(wb, p + ".txt", c_)});
  }
  for (int i = 0; i < c_.num_single; ++i) single_.push_back(bind_single(wb, "dit.single." + std::to_string(i), c_));
  final_mod_ = bind_linear(wb, "dit.final.mod", 2 * D, D);  // [shift; scale]
  final_linear_ = bind_linear(wb, "dit.final.linear", c_.out_channels, D);
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

std::vector<std::string> MMDiT::block_tensor_names(const WeightStore& ws, int block) const {
  OVIS_CHECK_ARG(block >= 0 && block < block_count(), "MMDiT has no block " + std::to_string(block));
  const int n_double = int(double_.size());
  const std::string prefix = block < n_double ? "dit.double." + std::to_string(block) + "."
                                              : "dit.single." + std::to_string(block - n_double) + ".";
  std::vector<std::string> names;
  for (const auto& kv : ws.tensors())
    if (kv.first.rfind(prefix, 0) == 0) names.push_back(kv.first);
  return names;
}

Tensor MMDiT::forward(Backend& be, const Tensor& x, const Tensor& ctx, const std::vector<float>& sigmas,
                      const RopeTables& rope, const CancelFlag* cancel) const {
  OVIS_CHECK_ARG(x.shape.rank == 3 && x.shape[2] == c_.in_channels,
                 "MMDiT input must be [B, L, " + std::to_string(c_.in_channels) + "], got " + x.shape.str());
  const int64_t B = x.shape[0], L = x.shape[1];
  OVIS_CHECK_ARG(ctx.shape.rank == 3 && ctx.shape[0] == B && ctx.shape[2] == c_.context_dim,
                 "MMDiT context must be [" + std::to_string(B) + ", T, " + std::to_string(c_.context_dim) + "], got " +
                     ctx.shape.str());
  const int64_t T = ctx.shape[1];
  OVIS_CHECK_ARG(int64_t(sigmas.size()) == B, "MMDiT needs one timestep per batch row");
  OVIS_CHECK_ARG(
      rope.cos.shape.rank == 2 && rope.cos.shape[0] == T + L,
      "MMDiT position tables cover " + std::to_string(rope.cos.shape[0]) + " tokens, need " + std::to_string(T + L));

  Tensor img = be.linear(x, *img_in_.w, img_in_.b);
  Tensor txt = be.linear(be.rms_norm(ctx, *txt_norm_, c_.eps), *txt_in_.w, txt_in_.b);

  Tensor features = be.upload(timestep_features(sigmas, int(kTimestepFeatures)));
  Tensor temb = be.linear(be.silu(be.linear(features, *time0_.w, time0_.b)), *time1_.w, time1_.b);
  // Every modulation Linear reads SiLU(temb): compute it once.
  Tensor silu_temb = be.silu(temb);

  Tensor h;
  try {
    int block = 0;
    for (const DitDoubleW& w : double_) {
      check_cancel(cancel);
      if (hooks_) hooks_->before(block);
      dit_double_block(be, c_, w, img, txt, silu_temb, rope);
      if (hooks_) hooks_->after(block++);
    }
    h = be.concat(txt, img, 1);
    for (const DitSingleW& w : single_) {
      check_cancel(cancel);
      if (hooks_) hooks_->before(block);
      dit_single_block(be, c_, w, h, silu_temb, rope);
      if (hooks_) hooks_->after(block++);
    }
  } catch (...) {
    if (hooks_ && hooks_->abandon) hooks_->abandon();
    throw;
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
