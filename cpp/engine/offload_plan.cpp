// Layer offload planning: look-ahead windows under a memory budget, and the 'auto' mode choice.
#include "offload_plan.h"

#include <algorithm>

#include "core/error.h"

namespace ovis {

namespace {

std::string mib(size_t bytes) { return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB"; }

// Blocks i .. i + ahead (clipped to the last one).
std::vector<int> window(int i, int ahead, int n) {
  std::vector<int> w;
  for (int j = i; j <= std::min(i + ahead, n - 1); ++j) w.push_back(j);
  return w;
}

OffloadPlan plan_with(const std::vector<size_t>& bytes, size_t fixed, int ahead) {
  const int n = int(bytes.size());
  OffloadPlan p;
  p.ahead = ahead;
  p.peak_bytes = fixed;
  int uploaded = -1;  // highest block whose upload has been started
  for (int i = 0; i < n; ++i) {
    std::vector<int> resident = window(i, ahead, n);
    std::vector<int> starts;
    for (int j : resident)
      if (j > uploaded) starts.push_back(j);
    if (!starts.empty()) uploaded = starts.back();
    size_t sum = fixed;
    for (int j : resident) sum += bytes[size_t(j)];
    p.peak_bytes = std::max(p.peak_bytes, sum);
    p.uploads_before.push_back(std::move(starts));
    p.resident_during.push_back(std::move(resident));
  }
  return p;
}

}  // namespace

OffloadMode parse_offload_mode(const std::string& s) {
  if (s == "none") return OffloadMode::None;
  if (s == "text-encoder") return OffloadMode::TextEncoder;
  if (s == "layers") return OffloadMode::Layers;
  if (s == "auto") return OffloadMode::Auto;
  fail("OVIS_BAD_ARGUMENT", "offload must be 'none', 'text-encoder', 'layers' or 'auto', got '" + s + "'");
}

const char* offload_mode_name(OffloadMode m) {
  switch (m) {
    case OffloadMode::None:
      return "none";
    case OffloadMode::TextEncoder:
      return "text-encoder";
    case OffloadMode::Layers:
      return "layers";
    case OffloadMode::Auto:
      return "auto";
  }
  return "?";
}

OffloadPlan plan_layer_offload(const std::vector<size_t>& bytes, size_t fixed, size_t budget, int max_ahead) {
  OVIS_CHECK_ARG(!bytes.empty(), "layer offload: no blocks to plan");
  OVIS_CHECK_ARG(max_ahead >= 0, "layer offload: max_ahead must be >= 0");
  for (int ahead = max_ahead; ahead >= 0; --ahead) {
    OffloadPlan p = plan_with(bytes, fixed, ahead);
    if (p.peak_bytes <= budget) return p;
  }
  const OffloadPlan one = plan_with(bytes, fixed, 0);
  fail("OVIS_OUT_OF_MEMORY", "layer offload: one block at a time needs " + mib(one.peak_bytes) + " (" + mib(fixed) +
                                 " resident + the largest block), the budget is " + mib(budget));
}

size_t offload_peak_bytes(OffloadMode mode, const OffloadSizes& s) {
  const size_t dit = s.other_weights + (mode == OffloadMode::Layers ? 0 : s.block_weights);
  const size_t encoding = dit + s.text_weights + s.text_working;
  const size_t denoising = dit + s.dit_working + (mode == OffloadMode::None ? s.text_weights : 0);
  return std::max(encoding, denoising);
}

OffloadMode choose_offload(OffloadMode requested, const OffloadSizes& s, size_t free_bytes) {
  if (requested != OffloadMode::Auto) return requested;
  if (offload_peak_bytes(OffloadMode::None, s) <= free_bytes) return OffloadMode::None;
  if (offload_peak_bytes(OffloadMode::TextEncoder, s) <= free_bytes) return OffloadMode::TextEncoder;
  return OffloadMode::Layers;
}

}  // namespace ovis
