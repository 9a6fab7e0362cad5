// Tiled VAE: the tile grids, the stitching with diffusers' linear blends, and the 'auto' choice.
#include "model/vae_tiled.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"

namespace ovis {

namespace {

constexpr double kAutoOverlap = 0.25;
constexpr int kAutoTiles[] = {512, 256, 128};
// Activations alive at once in a VAE block (input, normalised, convolved, residual): the estimate's
// multiplier on the widest activation.
constexpr size_t kLiveActivations = 4;

std::string tiling_str(int tile, double overlap) {
  return "tile " + std::to_string(tile) + " px, overlap " + std::to_string(overlap);
}

void check_tile(const VaeConfig& c, int tile, double overlap) {
  const int64_t f = vae_factor(c);
  OVIS_CHECK_ARG(tile >= 2 * f && tile % f == 0 && tile <= 65536,
                 "vae tiling: tile must be a multiple of " + std::to_string(f) + " in [" + std::to_string(2 * f) +
                     ", 65536] px, got " + std::to_string(tile));
  OVIS_CHECK_ARG(overlap >= 0 && overlap < 1, "vae tiling: overlap must be in [0, 1), got " + std::to_string(overlap));
}

void check_consistent(bool ok, int tile, double overlap, int64_t f) {
  OVIS_CHECK_ARG(ok,
                 "vae tiling: " + tiling_str(tile, overlap) +
                     " gives strides that are not whole latents: tile x (1 - overlap) must be a positive multiple of " +
                     std::to_string(f) + " px");
}

// Rows [y0, y0 + h) and columns [x0, x0 + w) of x [B, C, H, W].
Tensor crop(const Tensor& x, int64_t y0, int64_t x0, int64_t h, int64_t w) {
  const int64_t BC = x.shape[0] * x.shape[1], H = x.shape[2], W = x.shape[3];
  Tensor out = host_f32({x.shape[0], x.shape[1], h, w});
  for (int64_t p = 0; p < BC; ++p)
    for (int64_t y = 0; y < h; ++y)
      std::memcpy(out.ptr<float>() + (p * h + y) * w, x.ptr<float>() + (p * H + y0 + y) * W + x0,
                  size_t(w) * sizeof(float));
  return out;
}

// diffusers' weights: the neighbour fades out over `extent` rows/columns as the tile fades in.
float weight_in(int64_t i, int64_t extent) { return float(double(i) / double(extent)); }
float weight_out(int64_t i, int64_t extent) { return float(1.0 - double(i) / double(extent)); }

// b's top rows blended with a's bottom rows (a above b, same width), in place.
void blend_v(const Tensor& a, Tensor& b, int64_t extent) {
  const int64_t ha = a.shape[2], hb = b.shape[2], W = b.shape[3], BC = b.shape[0] * b.shape[1];
  OVIS_CHECK_ARG(a.shape[3] == W, "vae tiling: tiles above each other differ in width");
  extent = std::min({ha, hb, extent});
  for (int64_t p = 0; p < BC; ++p)
    for (int64_t y = 0; y < extent; ++y) {
      const float* src = a.ptr<float>() + (p * ha + ha - extent + y) * W;
      float* dst = b.ptr<float>() + (p * hb + y) * W;
      const float wa = weight_out(y, extent), wb = weight_in(y, extent);
      for (int64_t x = 0; x < W; ++x) dst[x] = src[x] * wa + dst[x] * wb;
    }
}

// b's left columns blended with a's right columns (a left of b, same height), in place.
void blend_h(const Tensor& a, Tensor& b, int64_t extent) {
  const int64_t wa = a.shape[3], wb = b.shape[3], H = b.shape[2], BC = b.shape[0] * b.shape[1];
  OVIS_CHECK_ARG(a.shape[2] == H, "vae tiling: tiles beside each other differ in height");
  extent = std::min({wa, wb, extent});
  for (int64_t p = 0; p < BC; ++p)
    for (int64_t y = 0; y < H; ++y) {
      const float* src = a.ptr<float>() + (p * H + y) * wa + wa - extent;
      float* dst = b.ptr<float>() + (p * H + y) * wb;
      for (int64_t x = 0; x < extent; ++x) dst[x] = src[x] * weight_out(x, extent) + dst[x] * weight_in(x, extent);
    }
}

// The top-left h x w of tile into out at (y0, x0).
void paste(const Tensor& tile, Tensor& out, int64_t y0, int64_t x0, int64_t h, int64_t w) {
  const int64_t BC = out.shape[0] * out.shape[1], H = out.shape[2], W = out.shape[3];
  const int64_t th = tile.shape[2], tw = tile.shape[3];
  for (int64_t p = 0; p < BC; ++p)
    for (int64_t y = 0; y < h; ++y)
      std::memcpy(out.ptr<float>() + (p * H + y0 + y) * W + x0, tile.ptr<float>() + (p * th + y) * tw,
                  size_t(w) * sizeof(float));
}

std::vector<int64_t> tile_starts(int64_t size, int64_t stride) {
  std::vector<int64_t> s;
  for (int64_t i = 0; i < size; i += stride) s.push_back(i);
  return s;
}

// Runs one tile and checks the runner kept the batch and scaled both sides by up / down.
Tensor run_tile(const TileRunner& run, const Tensor& in, const TileGrid& g) {
  Tensor out = run(in);
  OVIS_CHECK_ARG(out.device == DeviceKind::Host && out.dtype == DType::F32 && out.shape.rank == 4 &&
                     out.shape[0] == in.shape[0] && out.shape[2] == in.shape[2] * g.up / g.down &&
                     out.shape[3] == in.shape[3] * g.up / g.down,
                 "vae tiling: a tile of " + in.shape.str() + " gave " + out.shape.str());
  return out;
}

}  // namespace

int64_t vae_factor(const VaeConfig& c) { return int64_t(1) << (c.block_out_channels.size() - 1); }

TileGrid decode_grid(const VaeConfig& c, int tile, double overlap) {
  check_tile(c, tile, overlap);
  const int64_t f = vae_factor(c), lt = tile / f;
  TileGrid g;
  g.in_tile = lt;
  g.in_stride = int64_t(double(lt) * (1.0 - overlap));
  g.blend = int64_t(double(tile) * overlap);
  g.keep = tile - g.blend;
  g.up = f;
  check_consistent(g.in_stride > 0 && g.in_stride * f == g.keep, tile, overlap, f);
  return g;
}

TileGrid encode_grid(const VaeConfig& c, int tile, double overlap) {
  check_tile(c, tile, overlap);
  const int64_t f = vae_factor(c), lt = tile / f;
  TileGrid g;
  g.in_tile = tile;
  g.in_stride = int64_t(double(tile) * (1.0 - overlap));
  g.blend = int64_t(double(lt) * overlap);
  g.keep = lt - g.blend;
  g.down = f;
  check_consistent(g.keep > 0 && g.in_stride == g.keep * f, tile, overlap, f);
  return g;
}

Tensor run_tiled(const Tensor& input, const TileGrid& g, const TileRunner& run) {
  OVIS_CHECK_ARG(input.device == DeviceKind::Host && input.dtype == DType::F32 && input.shape.rank == 4,
                 "vae tiling: the input must be a host F32 [B, C, H, W] tensor");
  const int64_t H = input.shape[2], W = input.shape[3];
  // diffusers tiles only inputs larger than one tile.
  if (H <= g.in_tile && W <= g.in_tile) return run_tile(run, input, g);
  const int64_t out_h = H * g.up / g.down, out_w = W * g.up / g.down;
  Tensor out;
  std::vector<Tensor> above;
  int64_t oy = 0;
  for (int64_t y0 : tile_starts(H, g.in_stride)) {
    std::vector<Tensor> row;
    for (int64_t x0 : tile_starts(W, g.in_stride))
      row.push_back(run_tile(run, crop(input, y0, x0, std::min(g.in_tile, H - y0), std::min(g.in_tile, W - x0)), g));
    if (!out.defined()) out = host_f32({row[0].shape[0], row[0].shape[1], out_h, out_w});
    const int64_t kh = std::min(g.keep, row[0].shape[2]);
    int64_t ox = 0;
    for (size_t j = 0; j < row.size(); ++j) {
      if (!above.empty()) blend_v(above[j], row[j], g.blend);
      if (j > 0) blend_h(row[j - 1], row[j], g.blend);
      const int64_t kw = std::min(g.keep, row[j].shape[3]);
      OVIS_CHECK_ARG(oy + kh <= out_h && ox + kw <= out_w, "vae tiling: tiles overrun the output");
      paste(row[j], out, oy, ox, kh, kw);
      ox += kw;
    }
    OVIS_CHECK_ARG(ox == out_w, "vae tiling: tiles do not cover the output's width");
    oy += kh;
    above = std::move(row);
  }
  OVIS_CHECK_ARG(oy == out_h, "vae tiling: tiles do not cover the output's height");
  return out;
}

size_t vae_decode_bytes(const VaeConfig& c, int64_t h, int64_t w) {
  const std::vector<int>& ch = c.block_out_channels;
  const size_t n = ch.size();
  size_t widest = size_t(c.latent_channels) * size_t(h * w);
  for (size_t i = 0; i < n; ++i) {
    const size_t px = size_t(h * w) << (2 * i);  // resolution of up block i
    const size_t chan = size_t(ch[n - 1 - i]);
    widest = std::max(widest, chan * px);
    if (i + 1 < n) widest = std::max(widest, chan * (px << 2));  // its upsample output
  }
  const size_t attention = c.mid_attention ? size_t(h * w) * size_t(h * w) : 0;
  return sizeof(float) * (kLiveActivations * widest + attention);
}

size_t vae_encode_bytes(const VaeConfig& c, int64_t height, int64_t width) {
  const std::vector<int>& ch = c.block_out_channels;
  const int64_t f = vae_factor(c);
  size_t widest = size_t(c.in_channels) * size_t(height * width);
  for (size_t i = 0; i < ch.size(); ++i) widest = std::max(widest, size_t(ch[i]) * (size_t(height * width) >> (2 * i)));
  const size_t tokens = size_t((height / f) * (width / f));
  const size_t attention = c.mid_attention ? tokens * tokens : 0;
  return sizeof(float) * (kLiveActivations * widest + attention);
}

namespace {

// The 'auto' rule shared by decode and encode; `bytes(tile)` is one tile's estimate (0 = whole input).
template <class Bytes>
VaeTiling resolve(const VaeTiling& t, const VaeConfig& c, size_t free_bytes, const Bytes& bytes) {
  if (t.mode != VaeTiling::Mode::Auto) return t;
  VaeTiling out;
  out.mode = VaeTiling::Mode::Off;
  if (bytes(0) <= free_bytes) return out;
  out.mode = VaeTiling::Mode::Fixed;
  out.overlap = kAutoOverlap;
  for (int tile : kAutoTiles) {
    if (tile % vae_factor(c) != 0) continue;
    out.tile = tile;
    if (bytes(tile) <= free_bytes) return out;
  }
  return out;  // the smallest: nothing fits, try anyway and let the backend report what is missing
}

}  // namespace

VaeTiling resolve_decode_tiling(const VaeTiling& t, const VaeConfig& c, int64_t h, int64_t w, size_t free_bytes) {
  const int64_t f = vae_factor(c);
  return resolve(t, c, free_bytes, [&](int tile) {
    return tile == 0 ? vae_decode_bytes(c, h, w) : vae_decode_bytes(c, tile / f, tile / f);
  });
}

VaeTiling resolve_encode_tiling(const VaeTiling& t, const VaeConfig& c, int64_t height, int64_t width,
                                size_t free_bytes) {
  return resolve(t, c, free_bytes, [&](int tile) {
    return tile == 0 ? vae_encode_bytes(c, height, width) : vae_encode_bytes(c, tile, tile);
  });
}

}  // namespace ovis
