// Layer offload planning: the MMDiT's blocks stay on the host and are uploaded a few blocks ahead of
// use, so only a window of blocks is on the device at a time. The plan is bookkeeping only (what is
// resident when, which uploads start before which block), so it is tested anywhere; LayerStreamer
// (offload_streamer.h) carries it out on a Backend.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace ovis {

enum class OffloadMode { None, TextEncoder, Layers, Auto };

// "none", "text-encoder", "layers", "auto"; throws OVIS_BAD_ARGUMENT naming the allowed values.
OffloadMode parse_offload_mode(const std::string& s);
const char* offload_mode_name(OffloadMode m);

struct OffloadPlan {
  int ahead = 0;          // blocks uploaded ahead of the running one
  size_t peak_bytes = 0;  // fixed bytes + the largest set of blocks resident at once
  // uploads_before[i]: blocks whose upload is started just before block i runs (run order).
  std::vector<std::vector<int>> uploads_before;
  // resident_during[i]: blocks on the device while block i runs (i itself and those in flight).
  std::vector<std::vector<int>> resident_during;
};

// The largest look-ahead in [0, max_ahead] whose peak (fixed_bytes: resident weights and activations,
// plus the blocks resident at once) stays within budget. Throws OVIS_OUT_OF_MEMORY with the figures
// when even one block at a time does not fit.
OffloadPlan plan_layer_offload(const std::vector<size_t>& block_bytes, size_t fixed_bytes, size_t budget,
                               int max_ahead = 2);

// What each mode keeps on the device, for 'auto' to choose from free memory.
struct OffloadSizes {
  size_t text_weights = 0;   // text encoder
  size_t block_weights = 0;  // MMDiT blocks (what 'layers' streams)
  size_t other_weights = 0;  // the rest (MMDiT embedders and head, VAE)
  size_t text_working = 0;   // activations and scratch while encoding the prompts
  size_t dit_working = 0;    // activations and scratch while denoising
};

// Peak device bytes of running with `mode` (None or TextEncoder; Layers counts no block at all).
size_t offload_peak_bytes(OffloadMode mode, const OffloadSizes& sizes);

// 'auto' -> none when everything fits in free_bytes, else text-encoder (freed while denoising) when
// that fits, else layers; other modes are returned as they are.
OffloadMode choose_offload(OffloadMode requested, const OffloadSizes& sizes, size_t free_bytes);

}  // namespace ovis
