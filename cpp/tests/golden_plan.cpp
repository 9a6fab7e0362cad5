#include "golden_plan.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <sys/stat.h>

#include "safetensors_reader.h"

namespace ovis::test {

std::string golden_dir() {
  if (const char* env = std::getenv("OVIS_GOLDEN_DIR")) return env;
  // The repository this file was compiled from (cpp/tests/golden_plan.cpp -> root), then the
  // working directory and its parents.
  std::string here = __FILE__;
  for (int up = 0; up < 3 && here.find('/') != std::string::npos; ++up) here.erase(here.rfind('/'));
  const std::string candidates[] = {here + "/test/fixtures/golden", "test/fixtures/golden",
                                    "../test/fixtures/golden", "../../test/fixtures/golden"};
  for (const std::string& c : candidates) {
    struct stat st;
    if (::stat((c + "/manifest.json").c_str(), &st) == 0) return c;
  }
  throw std::runtime_error("golden fixtures not found: run from the repository root or set OVIS_GOLDEN_DIR");
}

namespace {

// `from` is a key prefix where '#' matches a decimal number; the matched numbers fill the '#'s of
// `to` in order. piece: position in a fused tensor. flat2d: 1x1 conv [C, C, 1, 1] read as Linear [C, C].
// reverse: the first number counts blocks from the other end (original decoder.up.N).
struct Rule {
  std::string from, to;
  int piece = 0;
  bool flat2d = false;
  bool reverse = false;
};

bool match(const std::string& pat, const std::string& key, std::vector<int>& nums, size_t& rest) {
  size_t k = 0;
  nums.clear();
  for (char p : pat) {
    if (p == '#') {
      size_t start = k;
      while (k < key.size() && key[k] >= '0' && key[k] <= '9') ++k;
      if (k == start) return false;
      nums.push_back(std::stoi(key.substr(start, k - start)));
    } else {
      if (k >= key.size() || key[k] != p) return false;
      ++k;
    }
  }
  rest = k;
  return true;
}

std::string fill(const std::string& pat, const std::vector<int>& nums) {
  std::string out;
  size_t n = 0;
  for (char p : pat) out += p == '#' ? std::to_string(nums.at(n++)) : std::string(1, p);
  return out;
}

std::vector<Rule> dit_rules() {
  std::vector<Rule> r = {
      {"img_in.", "dit.img_in."},
      {"semantic_txt_norm.", "dit.txt_norm."},
      {"semantic_txt_in.", "dit.txt_in."},
      {"time_in.in_layer.", "dit.time_in.0."},
      {"time_in.out_layer.", "dit.time_in.1."},
      {"single_blocks.#.modulation.lin.", "dit.single.#.mod."},
      {"single_blocks.#.linear1.", "dit.single.#.linear1."},
      {"single_blocks.#.linear2.", "dit.single.#.linear2."},
      {"single_blocks.#.norm.query_norm.", "dit.single.#.q_norm."},
      {"single_blocks.#.norm.key_norm.", "dit.single.#.k_norm."},
      {"final_layer.adaLN_modulation.1.", "dit.final.mod."},
      {"final_layer.linear.", "dit.final.linear."},
  };
  for (std::string s : {"img", "txt"}) {
    const std::string f = "double_blocks.#." + s, t = "dit.double.#." + s;
    r.push_back({f + "_mod.lin.", t + ".mod."});
    r.push_back({f + "_attn.qkv.", t + ".qkv."});
    r.push_back({f + "_attn.norm.query_norm.", t + ".q_norm."});
    r.push_back({f + "_attn.norm.key_norm.", t + ".k_norm."});
    r.push_back({f + "_attn.proj.", t + ".proj."});
    r.push_back({f + "_mlp.up_proj.", t + ".mlp_in.", 0});
    r.push_back({f + "_mlp.gate_proj.", t + ".mlp_in.", 1});
    r.push_back({f + "_mlp.down_proj.", t + ".mlp_out."});
  }
  return r;
}

std::vector<Rule> text_rules() {
  const std::string l = "llm.model.layers.#.", t = "te.layers.#.";
  return {
      {"llm.model.embed_tokens.", "te.embed."},
      {"llm.model.norm.", "te.norm."},
      {l + "input_layernorm.", t + "attn_norm."},
      {l + "self_attn.q_proj.", t + "qkv.", 0},
      {l + "self_attn.k_proj.", t + "qkv.", 1},
      {l + "self_attn.v_proj.", t + "qkv.", 2},
      {l + "self_attn.q_norm.", t + "q_norm."},
      {l + "self_attn.k_norm.", t + "k_norm."},
      {l + "self_attn.o_proj.", t + "o."},
      {l + "post_attention_layernorm.", t + "mlp_norm."},
      {l + "mlp.up_proj.", t + "mlp_in.", 0},
      {l + "mlp.gate_proj.", t + "mlp_in.", 1},
      {l + "mlp.down_proj.", t + "mlp_out."},
  };
}

std::vector<Rule> vae_rules() {
  std::vector<Rule> r;
  for (std::string part : {"encoder", "decoder"}) {
    const std::string e = part == "encoder" ? "vae.enc." : "vae.dec.";
    const std::string p = part + ".";
    r.push_back({p + "conv_in.", e + "conv_in."});
    r.push_back({p + "conv_out.", e + "conv_out."});
    r.push_back({p + "norm_out.", e + "norm_out."});
    r.push_back({p + "mid.block_1.", e + "mid.res.0."});
    r.push_back({p + "mid.block_2.", e + "mid.res.1."});
    r.push_back({p + "mid.attn_1.norm.", e + "mid.attn.norm."});
    r.push_back({p + "mid.attn_1.q.", e + "mid.attn.qkv.", 0, true});
    r.push_back({p + "mid.attn_1.k.", e + "mid.attn.qkv.", 1, true});
    r.push_back({p + "mid.attn_1.v.", e + "mid.attn.qkv.", 2, true});
    r.push_back({p + "mid.attn_1.proj_out.", e + "mid.attn.out.", 0, true});
  }
  r.push_back({"decoder.up.#.block.#.nin_shortcut.", "vae.dec.up.#.res.#.shortcut.", 0, false, true});
  r.push_back({"decoder.up.#.block.#.", "vae.dec.up.#.res.#.", 0, false, true});
  r.push_back({"decoder.up.#.upsample.conv.", "vae.dec.up.#.upsample.", 0, false, true});
  r.push_back({"encoder.down.#.block.#.nin_shortcut.", "vae.enc.down.#.res.#.shortcut."});
  r.push_back({"encoder.down.#.block.#.", "vae.enc.down.#.res.#."});
  r.push_back({"encoder.down.#.downsample.conv.", "vae.enc.down.#.downsample."});
  return r;
}

struct Piece {
  int index;
  PlanPiece piece;
};

// Maps every tensor of one file into `pending` (canonical name -> pieces).
void map_file(WeightPlan& plan, const std::string& path, const std::vector<Rule>& rules, int vae_blocks,
              std::map<std::string, std::vector<Piece>>& pending) {
  SafetensorsFile st = read_safetensors(path);
  const int file = int(plan.files.size());
  plan.files.push_back(path);
  for (const std::string& key : st.names) {
    const SafetensorsEntry& e = st.entries.at(key);
    std::vector<int> nums;
    size_t rest = 0;
    const Rule* hit = nullptr;
    for (const Rule& r : rules)
      if (match(r.from, key, nums, rest)) {
        hit = &r;
        break;
      }
    if (!hit) throw std::runtime_error("golden plan: no mapping for " + key + " in " + path);
    if (hit->reverse) nums[0] = vae_blocks - 1 - nums[0];
    const std::string name = fill(hit->to, nums) + key.substr(rest);
    std::vector<int64_t> shape = e.shape;
    if (hit->flat2d && shape.size() == 4) shape.resize(2);
    PlanPiece p;
    p.file = file;
    p.offset = st.data_start + e.begin;
    p.dtype = dtype_from_name(e.dtype);
    p.shape = Shape(shape);
    pending[name].push_back({hit->piece, p});
  }
}

std::vector<int> ints(const Json& j) {
  std::vector<int> out;
  for (const Json& v : j.items) out.push_back(int(v.num));
  return out;
}

}  // namespace

WeightPlan golden_tiny_plan() {
  const std::string dir = golden_dir();
  Json manifest = parse_json(read_text_file(dir + "/manifest.json"));
  WeightPlan plan;
  const Json& tc = manifest.at("transformer_config");
  plan.has_dit = true;
  plan.dit.in_channels = int(tc.at("in_channels").num);
  plan.dit.out_channels = int(tc.at("out_channels").num);
  plan.dit.num_heads = int(tc.at("num_attention_heads").num);
  plan.dit.head_dim = int(tc.at("attention_head_dim").num);
  plan.dit.num_double = int(tc.at("num_layers").num);
  plan.dit.num_single = int(tc.at("num_single_layers").num);
  plan.dit.context_dim = int(tc.at("joint_attention_dim").num);
  plan.dit.mlp_hidden = 4 * plan.dit.dim();  // diffusers mlp_ratio 4
  plan.dit.axes_dims = ints(tc.at("axes_dims_rope"));
  const Json& te = manifest.at("text_encoder_config");
  plan.has_text = true;
  plan.text.hidden = int(te.at("hidden_size").num);
  plan.text.layers = int(te.at("num_hidden_layers").num);
  plan.text.heads = int(te.at("num_attention_heads").num);
  plan.text.kv_heads = int(te.at("num_key_value_heads").num);
  plan.text.head_dim = int(te.at("head_dim").num);
  plan.text.intermediate = int(te.at("intermediate_size").num);
  plan.text.vocab = int(te.at("vocab_size").num);
  plan.text.eps = float(te.at("rms_norm_eps").num);
  plan.text.rope_theta = float(te.at("rope_theta").num);
  const Json& vc = manifest.at("vae_config");
  plan.has_vae = true;
  plan.vae.in_channels = int(vc.at("in_channels").num);
  plan.vae.out_channels = int(vc.at("out_channels").num);
  plan.vae.latent_channels = int(vc.at("latent_channels").num);
  plan.vae.block_out_channels = ints(vc.at("block_out_channels"));
  plan.vae.layers_per_block = int(vc.at("layers_per_block").num);
  plan.vae.groups = int(vc.at("norm_num_groups").num);
  plan.vae.scaling_factor = float(vc.at("scaling_factor").num);
  plan.vae.shift_factor = float(vc.at("shift_factor").num);
  plan.vae.mid_attention = vc.at("mid_block_add_attention").b;

  std::map<std::string, std::vector<Piece>> pending;
  const std::string orig = dir + "/tiny-original";
  const int n_vae = int(plan.vae.block_out_channels.size());
  map_file(plan, orig + "/ovis_image.safetensors", dit_rules(), n_vae, pending);
  map_file(plan, orig + "/Ovis2.5-2B/model.safetensors", text_rules(), n_vae, pending);
  map_file(plan, orig + "/ae.safetensors", vae_rules(), n_vae, pending);
  for (auto& kv : pending) {
    std::vector<Piece>& pieces = kv.second;
    std::sort(pieces.begin(), pieces.end(), [](const Piece& a, const Piece& b) { return a.index < b.index; });
    PlanTensor t;
    t.name = kv.first;
    t.dtype = pieces[0].piece.dtype;
    t.shape = pieces[0].piece.shape;
    for (size_t i = 1; i < pieces.size(); ++i) t.shape[0] += pieces[i].piece.shape[0];
    for (const Piece& p : pieces) t.pieces.push_back(p.piece);
    plan.tensors.push_back(t);
  }
  return plan;
}

}  // namespace ovis::test
