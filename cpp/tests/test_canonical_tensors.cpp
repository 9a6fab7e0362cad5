// The model constructors' tensor declarations (model/weight_binder.h) are the one description of
// the networks: the canonical lists come from them, and the plan the TypeScript planner writes for
// the golden tiny model (test/fixtures/plans/tiny-original.plan) must hold exactly those tensors.
#include <map>

#include "golden_plan.h"
#include "io/canonical_tensors.h"
#include "model/mmdit.h"
#include "model/vae.h"
#include "safetensors_reader.h"
#include "tests/testing.h"

using namespace ovis;

namespace {

std::map<std::string, Shape> by_name(const std::vector<TensorSpec>& specs) {
  std::map<std::string, Shape> out;
  for (const TensorSpec& s : specs) {
    CHECK_MSG(out.count(s.name) == 0, "declared twice: " << s.name);
    out[s.name] = s.shape;
  }
  return out;
}

const Shape& shape_of(const std::map<std::string, Shape>& m, const std::string& name) {
  auto it = m.find(name);
  CHECK_MSG(it != m.end(), "not declared: " << name);
  return it->second;
}

}  // namespace

TEST(ts_plan_holds_exactly_the_declared_tensors) {
  const WeightPlan plan = ovis::test::golden_tiny_plan();
  CHECK(plan.has_dit && plan.has_text && plan.has_vae);
  const auto declared = by_name(model_tensor_specs(model_config(plan), true));
  std::map<std::string, Shape> planned;
  for (const PlanTensor& t : plan.tensors) planned[t.name] = t.shape;
  CHECK_MSG(planned.size() == plan.tensors.size(), "the plan names a tensor twice");
  for (const auto& kv : declared) {
    auto it = planned.find(kv.first);
    CHECK_MSG(it != planned.end(), "the TS plan lacks " << kv.first);
    CHECK_MSG(it->second == kv.second,
              kv.first << ": TS plans " << it->second.str() << ", C++ declares " << kv.second.str());
  }
  for (const auto& kv : planned) CHECK_MSG(declared.count(kv.first), "the TS plan has undeclared " << kv.first);
}

TEST(ts_plan_config_is_the_golden_manifest) {
  const WeightPlan plan = ovis::test::golden_tiny_plan();
  const auto manifest = ovis::test::parse_json(ovis::test::read_text_file(ovis::test::golden_dir() + "/manifest.json"));
  const auto& tc = manifest.at("transformer_config");
  CHECK(plan.dit.num_double == int(tc.at("num_layers").num));
  CHECK(plan.dit.num_single == int(tc.at("num_single_layers").num));
  CHECK(plan.dit.num_heads == int(tc.at("num_attention_heads").num));
  CHECK(plan.dit.context_dim == int(tc.at("joint_attention_dim").num));
  const auto& te = manifest.at("text_encoder_config");
  CHECK(plan.text.layers == int(te.at("num_hidden_layers").num));
  CHECK(plan.text.kv_heads == int(te.at("num_key_value_heads").num));
  const auto& vc = manifest.at("vae_config");
  CHECK(plan.vae.block_out_channels.size() == vc.at("block_out_channels").items.size());
  CHECK(plan.vae.layers_per_block == int(vc.at("layers_per_block").num));
  for (const std::string& f : plan.files) CHECK_MSG(f.rfind(ovis::test::golden_dir(), 0) == 0, f);
}

TEST(declared_dit_tensors_follow_the_config) {
  const DitConfig c;  // the released model's sizes
  const auto specs = dit_tensor_specs(c);
  // 9 input/time tensors, 24 per double block, 8 per single block, 4 for the output layer.
  CHECK(specs.size() == size_t(9 + 24 * c.num_double + 8 * c.num_single + 4));
  const auto m = by_name(specs);
  const int64_t D = c.dim(), F = c.mlp_hidden;
  CHECK(shape_of(m, "dit.time_in.0.weight") == Shape({D, kTimestepFeatures}));
  CHECK(shape_of(m, "dit.single.26.linear1.weight") == Shape({3 * D + 2 * F, D}));
  CHECK(shape_of(m, "dit.double.5.txt.mlp_in.bias") == Shape({2 * F}));
  CHECK(shape_of(m, "dit.final.linear.weight") == Shape({c.out_channels, D}));
}

TEST(declared_text_and_vae_tensors_follow_the_config) {
  const TextConfig t;
  const auto te = by_name(text_tensor_specs(t));
  CHECK(te.size() == size_t(2 + 8 * t.layers));
  CHECK(shape_of(te, "te.layers.27.qkv.weight") == Shape({(16 + 2 * 8) * 128, 2048}));
  CHECK(te.count("te.layers.0.qkv.bias") == 0);  // Qwen3 has no biases

  const VaeConfig v;
  const auto dec = by_name(vae_tensor_specs(v, false));
  const auto all = by_name(vae_tensor_specs(v, true));
  CHECK(all.size() > dec.size());
  CHECK(dec.count("vae.enc.conv_in.weight") == 0 && all.count("vae.enc.conv_in.weight") == 1);
  // A 1x1 shortcut only where channels change: up.2 goes 512 -> 256, up.0 stays at 512.
  CHECK(shape_of(dec, "vae.dec.up.2.res.0.shortcut.weight") == Shape({256, 512, 1, 1}));
  CHECK(dec.count("vae.dec.up.0.res.0.shortcut.weight") == 0);
  CHECK(shape_of(dec, "vae.dec.mid.attn.qkv.weight") == Shape({3 * 512, 512}));
}

TEST(binding_names_the_misshapen_tensor) {
  DitConfig c;
  c.num_heads = 2;
  c.head_dim = 8;
  c.axes_dims = {2, 2, 4};
  c.num_double = 1;
  c.num_single = 1;
  c.context_dim = 8;
  c.mlp_hidden = 32;
  c.in_channels = c.out_channels = 4;
  std::map<std::string, Tensor> tensors;
  for (const TensorSpec& s : dit_tensor_specs(c)) tensors[s.name] = host_f32(s.shape);
  {
    const WeightStore ws(tensors);
    const MMDiT ok(c, ws);
    CHECK(ok.config().num_single == 1);
  }
  tensors["dit.single.0.linear2.weight"] = host_f32({16, 16});
  const WeightStore bad(tensors);
  try {
    const MMDiT m(c, bad);
    CHECK_MSG(false, "a misshapen tensor was accepted");
  } catch (const Error& e) {
    CHECK(e.code() == std::string("OVIS_BAD_WEIGHTS"));
    CHECK_MSG(std::string(e.what()).find("dit.single.0.linear2.weight") != std::string::npos, e.what());
  }
}
