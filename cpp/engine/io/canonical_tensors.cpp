// Canonical tensor names and shapes per component; mirrors the tables of docs/WEIGHTS.md.
#include "io/canonical_tensors.h"

#include "core/error.h"

namespace ovis {
namespace {

void add_linear(std::vector<TensorSpec>& out, const std::string& name, int64_t n_out, int64_t n_in, bool bias = true) {
  out.push_back({name + ".weight", Shape{n_out, n_in}});
  if (bias) out.push_back({name + ".bias", Shape{n_out}});
}

void add_conv(std::vector<TensorSpec>& out, const std::string& name, int64_t c_out, int64_t c_in, int64_t k) {
  out.push_back({name + ".weight", Shape{c_out, c_in, k, k}});
  out.push_back({name + ".bias", Shape{c_out}});
}

void add_norm(std::vector<TensorSpec>& out, const std::string& name, int64_t c) {
  out.push_back({name + ".weight", Shape{c}});
  out.push_back({name + ".bias", Shape{c}});
}

void add_resnet(std::vector<TensorSpec>& out, const std::string& p, int64_t c_in, int64_t c_out) {
  add_norm(out, p + ".norm1", c_in);
  add_conv(out, p + ".conv1", c_out, c_in, 3);
  add_norm(out, p + ".norm2", c_out);
  add_conv(out, p + ".conv2", c_out, c_out, 3);
  if (c_in != c_out) add_conv(out, p + ".shortcut", c_out, c_in, 1);
}

void add_mid(std::vector<TensorSpec>& out, const std::string& p, int64_t c, bool attention) {
  add_resnet(out, p + ".res.0", c, c);
  if (attention) {
    add_norm(out, p + ".attn.norm", c);
    add_linear(out, p + ".attn.qkv", 3 * c, c);
    add_linear(out, p + ".attn.out", c, c);
  }
  add_resnet(out, p + ".res.1", c, c);
}

}  // namespace

std::vector<TensorSpec> dit_tensor_specs(const DitConfig& c) {
  std::vector<TensorSpec> out;
  const int64_t D = c.dim(), F = c.mlp_hidden, hd = c.head_dim;
  add_linear(out, "dit.img_in", D, c.in_channels);
  out.push_back({"dit.txt_norm.weight", Shape{c.context_dim}});
  add_linear(out, "dit.txt_in", D, c.context_dim);
  add_linear(out, "dit.time_in.0", D, 256);
  add_linear(out, "dit.time_in.1", D, D);
  for (int i = 0; i < c.num_double; ++i) {
    for (const char* stream : {"img", "txt"}) {
      const std::string p = "dit.double." + std::to_string(i) + "." + stream;
      add_linear(out, p + ".mod", 6 * D, D);
      add_linear(out, p + ".qkv", 3 * D, D);
      out.push_back({p + ".q_norm.weight", Shape{hd}});
      out.push_back({p + ".k_norm.weight", Shape{hd}});
      add_linear(out, p + ".proj", D, D);
      add_linear(out, p + ".mlp_in", 2 * F, D);
      add_linear(out, p + ".mlp_out", D, F);
    }
  }
  for (int i = 0; i < c.num_single; ++i) {
    const std::string p = "dit.single." + std::to_string(i);
    add_linear(out, p + ".mod", 3 * D, D);
    add_linear(out, p + ".linear1", 3 * D + 2 * F, D);
    out.push_back({p + ".q_norm.weight", Shape{hd}});
    out.push_back({p + ".k_norm.weight", Shape{hd}});
    add_linear(out, p + ".linear2", D, D + F);
  }
  add_linear(out, "dit.final.mod", 2 * D, D);
  add_linear(out, "dit.final.linear", c.out_channels, D);
  return out;
}

std::vector<TensorSpec> text_tensor_specs(const TextConfig& c) {
  std::vector<TensorSpec> out;
  const int64_t H = c.hidden, hd = c.head_dim;
  out.push_back({"te.embed.weight", Shape{c.vocab, H}});
  for (int i = 0; i < c.layers; ++i) {
    const std::string p = "te.layers." + std::to_string(i);
    out.push_back({p + ".attn_norm.weight", Shape{H}});
    add_linear(out, p + ".qkv", (c.heads + 2 * c.kv_heads) * hd, H, false);
    out.push_back({p + ".q_norm.weight", Shape{hd}});
    out.push_back({p + ".k_norm.weight", Shape{hd}});
    add_linear(out, p + ".o", H, c.heads * hd, false);
    out.push_back({p + ".mlp_norm.weight", Shape{H}});
    add_linear(out, p + ".mlp_in", 2 * c.intermediate, H, false);
    add_linear(out, p + ".mlp_out", H, c.intermediate, false);
  }
  out.push_back({"te.norm.weight", Shape{H}});
  return out;
}

std::vector<TensorSpec> vae_tensor_specs(const VaeConfig& c, bool with_encoder) {
  std::vector<TensorSpec> out;
  const auto& ch = c.block_out_channels;
  const int n = int(ch.size());
  // Decoder: lowest resolution (last channel entry) first.
  const int64_t top = ch[n - 1];
  add_conv(out, "vae.dec.conv_in", top, c.latent_channels, 3);
  add_mid(out, "vae.dec.mid", top, c.mid_attention);
  int64_t prev = top;
  for (int i = 0; i < n; ++i) {
    const int64_t cur = ch[n - 1 - i];
    const std::string p = "vae.dec.up." + std::to_string(i);
    for (int j = 0; j <= c.layers_per_block; ++j) {
      add_resnet(out, p + ".res." + std::to_string(j), prev, cur);
      prev = cur;
    }
    if (i < n - 1) add_conv(out, p + ".upsample", cur, cur, 3);
  }
  add_norm(out, "vae.dec.norm_out", prev);
  add_conv(out, "vae.dec.conv_out", c.out_channels, prev, 3);
  if (!with_encoder) return out;

  add_conv(out, "vae.enc.conv_in", ch[0], c.in_channels, 3);
  prev = ch[0];
  for (int i = 0; i < n; ++i) {
    const int64_t cur = ch[i];
    const std::string p = "vae.enc.down." + std::to_string(i);
    for (int j = 0; j < c.layers_per_block; ++j) {
      add_resnet(out, p + ".res." + std::to_string(j), prev, cur);
      prev = cur;
    }
    if (i < n - 1) add_conv(out, p + ".downsample", cur, cur, 3);
  }
  add_mid(out, "vae.enc.mid", prev, c.mid_attention);
  add_norm(out, "vae.enc.norm_out", prev);
  add_conv(out, "vae.enc.conv_out", 2 * c.latent_channels, prev, 3);
  return out;
}

ModelConfig model_config(const WeightPlan& plan) {
  ModelConfig m;
  m.has_dit = plan.has_dit;
  m.has_text = plan.has_text;
  m.has_vae = plan.has_vae;
  m.dit = plan.dit;
  m.text = plan.text;
  m.vae = plan.vae;
  return m;
}

std::vector<TensorSpec> model_tensor_specs(const ModelConfig& m, bool with_vae_encoder) {
  std::vector<TensorSpec> out;
  auto append = [&](std::vector<TensorSpec> specs) { out.insert(out.end(), specs.begin(), specs.end()); };
  if (m.has_text) append(text_tensor_specs(m.text));
  if (m.has_dit) append(dit_tensor_specs(m.dit));
  if (m.has_vae) append(vae_tensor_specs(m.vae, with_vae_encoder));
  return out;
}

void check_model_tensors(const ModelConfig& m, bool with_vae_encoder,
                         const std::function<const Shape*(const std::string& name)>& shape_of) {
  for (const TensorSpec& spec : model_tensor_specs(m, with_vae_encoder)) {
    const Shape* s = shape_of(spec.name);
    if (!s)
      fail("OVIS_BAD_WEIGHTS",
           "weights lack tensor " + spec.name + " (the checkpoint is incomplete or of another model)");
    if (*s != spec.shape)
      fail("OVIS_BAD_WEIGHTS",
           "tensor " + spec.name + " has shape " + s->str() + ", the config needs " + spec.shape.str());
  }
}

}  // namespace ovis
