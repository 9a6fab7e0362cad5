// The GPU cost model (bench/cuda/cost_model.h) against the figures docs/MODEL.md derives by hand.
#include "cost_model.h"
#include "testing.h"

using namespace ovis::bench;

namespace {
double sum_kind(const std::vector<OpCost>& ops, OpKind kind) {
  double s = 0;
  for (const auto& o : ops)
    if (o.kind == kind) s += o.count * o.flops;
  return s;
}
}  // namespace

TEST(cost_model_mmdit_flops_match_model_doc) {
  Workload w;  // 1024², batch 1: one forward
  w.batch = 1;
  const auto ops = mmdit_forward_ops(w);
  const double s = 4352, d = 3072;
  // Linear layers: 33 blocks x 32 D² S (plus the small embedders); attention: 33 x 4 S² D.
  const double linear = 33 * 32 * d * d * s, attn = 33 * 4 * s * s * d;
  CHECK(std::fabs(sum_kind(ops, OpKind::Gemm) - linear) / linear < 0.01);
  CHECK(std::fabs(sum_kind(ops, OpKind::Attention) - attn) / attn < 1e-9);
}

TEST(cost_model_prediction_scales_and_is_bounded_by_the_floor) {
  const DeviceRates r = h100_sxm_datasheet();
  Workload w;
  const Prediction p = predict_image(w, r);
  // 100 forwards of ~5.1e13 FLOP at 989 TFLOP/s is the floor; the prediction sits above it.
  CHECK(p.floor_s > 5.0 && p.floor_s < 5.4);
  CHECK(p.image_s > p.floor_s);
  CHECK(p.image_s < 2 * p.floor_s);
  w.steps = 25;
  const Prediction half = predict_image(w, r);
  CHECK(std::fabs((p.image_s - p.text_s - p.vae_s) - 2 * (half.image_s - half.text_s - half.vae_s)) < 1e-9);
  // VAE decode at 1024²: ~1e13 FLOP (docs/MODEL.md).
  const double vae = total_flops(vae_decode_ops(Workload{}));
  CHECK(vae > 0.8e13 && vae < 1.3e13);
}

TEST(cost_model_memory_bound_op_is_timed_by_bandwidth) {
  const DeviceRates r = h100_sxm_datasheet();
  const OpCost copy{"copy", OpKind::Memory, 1, 0, 1e9};
  CHECK(std::fabs(op_seconds(copy, r) - 1e9 / (r.bandwidth * r.memory_efficiency)) < 1e-15);
  CHECK(cost_report(Workload{}, r).find("PREDICTION") != std::string::npos);
}
