// Tiled VAE decode/encode, equal to diffusers' AutoencoderKL.tiled_decode / _tiled_encode at the same
// tile and overlap (docs/MODEL.md "Tiled VAE"): tiles are run alone, each tile's top and left edges are
// blended linearly into the (already blended) neighbours above and to the left, and the top-left part
// of every tile is kept. Only one row of tiles is held at a time.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "core/tensor.h"
#include "io/plan.h"

namespace ovis {

struct VaeTiling {
  enum class Mode { Off, Auto, Fixed };
  Mode mode = Mode::Auto;  // Auto: tile only when the whole-image decode would not fit free memory
  int tile = 0;            // pixels (Fixed); a multiple of the VAE's downscale factor
  double overlap = 0.25;   // fraction of a tile shared with each neighbour
};

// How one direction (decode or encode) cuts its input and stitches its output, in diffusers' terms.
struct TileGrid {
  int64_t in_tile = 0;       // input tile side (latents for decode, pixels for encode)
  int64_t in_stride = 0;     // distance between tile starts in the input
  int64_t blend = 0;         // output rows/columns blended with the neighbour above/left
  int64_t keep = 0;          // output rows/columns kept per tile (top-left)
  int64_t up = 1, down = 1;  // output side = input side * up / down
};

// VAE downscale factor: 2^(number of blocks - 1).
int64_t vae_factor(const VaeConfig& c);
// The grids of diffusers for a tile of `tile` pixels. Throws OVIS_BAD_ARGUMENT (naming tile and overlap)
// when the tile is not a multiple of the factor or the strides do not land on whole latents: then
// diffusers' stitched output would not have the input's size.
TileGrid decode_grid(const VaeConfig& c, int tile, double overlap);
TileGrid encode_grid(const VaeConfig& c, int tile, double overlap);

// Runs `run` on every tile of `input` (host F32 [B, C, H, W]) and stitches the outputs (host F32
// [B, C', h·up/down, w·up/down] for a tile of h x w) into host F32 [B, C', H·up/down, W·up/down].
// An input no larger than one tile runs whole, as in diffusers.
using TileRunner = std::function<Tensor(const Tensor& tile)>;
Tensor run_tiled(const Tensor& input, const TileGrid& grid, const TileRunner& run);

// Rough peak bytes of decoding a [1, latent, h, w] latent whole (the widest full-resolution activations
// plus the mid-block attention scores): what 'auto' compares with the backend's free memory.
size_t vae_decode_bytes(const VaeConfig& c, int64_t h, int64_t w);
size_t vae_encode_bytes(const VaeConfig& c, int64_t height, int64_t width);

// 'auto' resolved against free memory for a latent of h x w: Off when the whole decode fits, else the
// largest tile among 512, 256, 128 px (overlap 0.25) whose decode fits (128 when none does).
VaeTiling resolve_decode_tiling(const VaeTiling& t, const VaeConfig& c, int64_t h, int64_t w, size_t free_bytes);
VaeTiling resolve_encode_tiling(const VaeTiling& t, const VaeConfig& c, int64_t height, int64_t width,
                                size_t free_bytes);

}  // namespace ovis
