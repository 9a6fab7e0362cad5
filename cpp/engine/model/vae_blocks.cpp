// VAE building blocks: ResNet, mid attention, mid block.
#include <cmath>

#include "model/vae.h"

namespace ovis {

namespace {

Tensor conv3x3(Backend& be, const ConvW& w, const Tensor& x) { return be.conv2d(x, *w.w, w.b, 1, 1, 1, 1, 1); }

}  // namespace

ResnetW resnet_w(const WeightBinder& wb, const std::string& p, int64_t in, int64_t out) {
  ResnetW r;
  r.norm1 = bind_affine_norm(wb, p + ".norm1", in);
  r.conv1 = bind_conv(wb, p + ".conv1", out, in, 3);
  r.norm2 = bind_affine_norm(wb, p + ".norm2", out);
  r.conv2 = bind_conv(wb, p + ".conv2", out, out, 3);
  if (in != out || wb.has(p + ".shortcut.weight")) r.shortcut = bind_conv(wb, p + ".shortcut", out, in, 1);
  return r;
}

Tensor vae_resnet(Backend& be, const VaeConfig& c, const ResnetW& w, const Tensor& x) {
  Tensor h = conv3x3(be, w.conv1, be.group_norm(x, *w.norm1.w, *w.norm1.b, c.groups, c.eps, true));
  h = conv3x3(be, w.conv2, be.group_norm(h, *w.norm2.w, *w.norm2.b, c.groups, c.eps, true));
  if (w.shortcut.w)
    be.add_(h, be.conv2d(x, *w.shortcut.w, w.shortcut.b, 1, 0, 0, 0, 0));
  else
    be.add_(h, x);
  return h;
}

MidAttentionW mid_attention_w(const WeightBinder& wb, const std::string& p, int64_t ch) {
  MidAttentionW a;
  a.norm = bind_affine_norm(wb, p + ".norm", ch);
  a.qkv = bind_linear(wb, p + ".qkv", 3 * ch, ch);
  a.out = bind_linear(wb, p + ".out", ch, ch);
  return a;
}

Tensor vae_mid_attention(Backend& be, const VaeConfig& c, const MidAttentionW& w, const Tensor& x) {
  const int64_t B = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3], N = H * W;
  Tensor n = be.group_norm(x, *w.norm.w, *w.norm.b, c.groups, c.eps, false);
  Tensor tokens = be.transpose_last2(n.view({B, C, N}));  // [B, N, C]
  n = Tensor{};
  Tensor qkv = be.linear(tokens, *w.qkv.w, w.qkv.b);
  tokens = Tensor{};
  Tensor q = be.slice(qkv, 2, 0, C).view({B, N, 1, C});
  Tensor k = be.slice(qkv, 2, C, C).view({B, N, 1, C});
  Tensor v = be.slice(qkv, 2, 2 * C, C).view({B, N, 1, C});
  qkv = Tensor{};
  Tensor a = be.attention(q, k, v, 1.0f / std::sqrt(float(C)), false, nullptr).view({B, N, C});
  Tensor out = be.transpose_last2(be.linear(a, *w.out.w, w.out.b)).view({B, C, H, W});
  be.add_(out, x);
  return out;
}

MidBlockW mid_block_w(const WeightBinder& wb, const std::string& p, int64_t ch, bool attention) {
  MidBlockW m;
  m.res0 = resnet_w(wb, p + ".res.0", ch, ch);
  m.has_attention = attention;
  if (attention) m.attn = mid_attention_w(wb, p + ".attn", ch);
  m.res1 = resnet_w(wb, p + ".res.1", ch, ch);
  return m;
}

Tensor vae_mid_block(Backend& be, const VaeConfig& c, const MidBlockW& w, const Tensor& x) {
  Tensor h = vae_resnet(be, c, w.res0, x);
  if (w.has_attention) h = vae_mid_attention(be, c, w.attn, h);
  return vae_resnet(be, c, w.res1, h);
}

}  // namespace ovis
