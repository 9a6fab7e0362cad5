// FLUX VAE decoder and encoder written against the Backend (docs/MODEL.md "VAE").
// Any block_out_channels / layers_per_block / groups from the plan work.
#pragma once
#include <atomic>
#include <string>
#include <vector>

#include "core/backend.h"
#include "io/plan.h"
#include "io/weights.h"
#include "model/weight_binder.h"

namespace ovis {

// x' = conv2(SiLU(GN(conv1(SiLU(GN(x)))))) + shortcut(x); shortcut is a 1x1 conv when channels change
// (or whenever the checkpoint has one).
struct ResnetW {
  NormW norm1, norm2;
  ConvW conv1, conv2, shortcut;  // shortcut.w null = identity
};
ResnetW resnet_w(const WeightBinder& wb, const std::string& prefix, int64_t in, int64_t out);
Tensor vae_resnet(Backend& be, const VaeConfig& c, const ResnetW& w, const Tensor& x);

// Single-head self-attention over pixels with a residual: x + out(attn(qkv(GN(x)))).
struct MidAttentionW {
  NormW norm;
  ConvW qkv, out;  // Linear weights [3C, C] and [C, C]
};
MidAttentionW mid_attention_w(const WeightBinder& wb, const std::string& prefix, int64_t channels);
Tensor vae_mid_attention(Backend& be, const VaeConfig& c, const MidAttentionW& w, const Tensor& x);

// Mid block: resnet, optional attention, resnet.
struct MidBlockW {
  ResnetW res0, res1;
  bool has_attention = false;
  MidAttentionW attn;
};
MidBlockW mid_block_w(const WeightBinder& wb, const std::string& prefix, int64_t channels, bool attention);
Tensor vae_mid_block(Backend& be, const VaeConfig& c, const MidBlockW& w, const Tensor& x);

class VaeDecoder {
 public:
  // Declares every canonical decoder tensor with its shape from the config, and binds it.
  VaeDecoder(const VaeConfig& config, const WeightBinder& weights);
  VaeDecoder(const VaeConfig& config, const WeightStore& weights) : VaeDecoder(config, StoreBinder(weights)) {}
  // z [B, latent, h, w] (raw: scaling/shift already undone) -> [B, out_channels, h * 2^(n-1), w * 2^(n-1)].
  Tensor forward(Backend& be, const Tensor& z, const std::atomic<bool>* cancel) const;

 private:
  struct UpBlock {
    std::vector<ResnetW> res;
    ConvW upsample;  // w null on the last block
  };
  VaeConfig c_;
  ConvW conv_in_, conv_out_;
  NormW norm_out_;
  MidBlockW mid_;
  std::vector<UpBlock> up_;
};

class VaeEncoder {
 public:
  // Declares every canonical encoder tensor with its shape from the config, and binds it.
  VaeEncoder(const VaeConfig& config, const WeightBinder& weights);
  VaeEncoder(const VaeConfig& config, const WeightStore& weights) : VaeEncoder(config, StoreBinder(weights)) {}
  // True when the plan holds encoder weights (the encoder is optional).
  static bool present(const WeightStore& weights);
  // image [B, in_channels, H, W] -> [B, 2 * latent, H / 2^(n-1), W / 2^(n-1)] = mean || logvar.
  Tensor forward(Backend& be, const Tensor& image, const std::atomic<bool>* cancel) const;

 private:
  struct DownBlock {
    std::vector<ResnetW> res;
    ConvW downsample;  // w null on the last block
  };
  VaeConfig c_;
  ConvW conv_in_, conv_out_;
  NormW norm_out_;
  MidBlockW mid_;
  std::vector<DownBlock> down_;
};

}  // namespace ovis
