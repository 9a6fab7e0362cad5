// VAE decoder (latent -> image) and encoder (image -> mean || logvar).
#include "model/vae.h"

#include "core/error.h"
#include "engine.h"

namespace ovis {

namespace {

void check_image_like(const Tensor& x, int64_t channels, const char* what) {
  OVIS_CHECK_ARG(x.shape.rank == 4 && x.shape[1] == channels && x.shape[2] > 0 && x.shape[3] > 0,
                 std::string(what) + " must be [B, " + std::to_string(channels) + ", H, W], got " + x.shape.str());
}

}  // namespace

VaeDecoder::VaeDecoder(const VaeConfig& c, const WeightBinder& wb) : c_(c) {
  const std::vector<int>& ch = c.block_out_channels;
  const int n = int(ch.size());
  const int64_t top = ch[size_t(n - 1)];
  conv_in_ = bind_conv(wb, "vae.dec.conv_in", top, c.latent_channels, 3);
  mid_ = mid_block_w(wb, "vae.dec.mid", top, c.mid_attention);
  int64_t prev = top;
  for (int i = 0; i < n; ++i) {
    const int64_t out = ch[size_t(n - 1 - i)];  // lowest resolution (widest) first
    const std::string p = "vae.dec.up." + std::to_string(i);
    UpBlock b;
    for (int j = 0; j <= c.layers_per_block; ++j)
      b.res.push_back(resnet_w(wb, p + ".res." + std::to_string(j), j == 0 ? prev : out, out));
    if (i < n - 1) b.upsample = bind_conv(wb, p + ".upsample", out, out, 3);
    up_.push_back(b);
    prev = out;
  }
  norm_out_ = bind_affine_norm(wb, "vae.dec.norm_out", prev);
  conv_out_ = bind_conv(wb, "vae.dec.conv_out", c.out_channels, prev, 3);
}

Tensor VaeDecoder::forward(Backend& be, const Tensor& z, const std::atomic<bool>* cancel) const {
  check_image_like(z, c_.latent_channels, "VAE latent");
  Tensor h = be.conv2d(z, *conv_in_.w, conv_in_.b, 1, 1, 1, 1, 1);
  h = vae_mid_block(be, c_, mid_, h);
  for (const UpBlock& b : up_) {
    for (const ResnetW& r : b.res) {
      check_cancel(cancel);
      h = vae_resnet(be, c_, r, h);
    }
    if (b.upsample.w) h = be.conv2d(be.upsample_nearest2x(h), *b.upsample.w, b.upsample.b, 1, 1, 1, 1, 1);
  }
  check_cancel(cancel);
  h = be.group_norm(h, *norm_out_.w, *norm_out_.b, c_.groups, c_.eps, true);
  return be.conv2d(h, *conv_out_.w, conv_out_.b, 1, 1, 1, 1, 1);
}

bool VaeEncoder::present(const WeightStore& ws) { return ws.has("vae.enc.conv_in.weight"); }

VaeEncoder::VaeEncoder(const VaeConfig& c, const WeightBinder& wb) : c_(c) {
  const std::vector<int>& ch = c.block_out_channels;
  const int n = int(ch.size());
  conv_in_ = bind_conv(wb, "vae.enc.conv_in", ch[0], c.in_channels, 3);
  int64_t prev = ch[0];
  for (int i = 0; i < n; ++i) {
    const int64_t out = ch[size_t(i)];
    const std::string p = "vae.enc.down." + std::to_string(i);
    DownBlock b;
    for (int j = 0; j < c.layers_per_block; ++j)
      b.res.push_back(resnet_w(wb, p + ".res." + std::to_string(j), j == 0 ? prev : out, out));
    if (i < n - 1) b.downsample = bind_conv(wb, p + ".downsample", out, out, 3);
    down_.push_back(b);
    prev = out;
  }
  mid_ = mid_block_w(wb, "vae.enc.mid", prev, c.mid_attention);
  norm_out_ = bind_affine_norm(wb, "vae.enc.norm_out", prev);
  conv_out_ = bind_conv(wb, "vae.enc.conv_out", 2 * int64_t(c.latent_channels), prev, 3);
}

Tensor VaeEncoder::forward(Backend& be, const Tensor& image, const std::atomic<bool>* cancel) const {
  check_image_like(image, c_.in_channels, "VAE input image");
  const int64_t factor = int64_t(1) << (down_.size() - 1);
  OVIS_CHECK_ARG(
      image.shape[2] % factor == 0 && image.shape[3] % factor == 0,
      "VAE input height and width must be multiples of " + std::to_string(factor) + ", got " + image.shape.str());
  Tensor h = be.conv2d(image, *conv_in_.w, conv_in_.b, 1, 1, 1, 1, 1);
  for (const DownBlock& b : down_) {
    for (const ResnetW& r : b.res) {
      check_cancel(cancel);
      h = vae_resnet(be, c_, r, h);
    }
    // Stride-2 conv padded only at the bottom and right, as the reference does.
    if (b.downsample.w) h = be.conv2d(h, *b.downsample.w, b.downsample.b, 2, 0, 0, 1, 1);
  }
  check_cancel(cancel);
  h = vae_mid_block(be, c_, mid_, h);
  h = be.group_norm(h, *norm_out_.w, *norm_out_.b, c_.groups, c_.eps, true);
  return be.conv2d(h, *conv_out_.w, conv_out_.b, 1, 1, 1, 1, 1);
}

}  // namespace ovis
