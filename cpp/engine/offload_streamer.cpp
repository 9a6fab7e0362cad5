// LayerStreamer: uploads ahead of use, waits before use, frees after use, as the plan says.
#include "offload_streamer.h"

#include "core/error.h"

namespace ovis {

std::vector<size_t> block_bytes(const WeightStore& store, const std::vector<std::vector<std::string>>& blocks) {
  std::vector<size_t> out;
  for (const auto& names : blocks) {
    size_t sum = 0;
    for (const std::string& n : names) sum += store.get(n).nbytes();
    out.push_back(sum);
  }
  return out;
}

LayerStreamer::LayerStreamer(Backend& be, WeightStore& store, std::vector<std::vector<std::string>> blocks,
                             OffloadPlan plan)
    : be_(be), store_(store), blocks_(std::move(blocks)), uploaded_(blocks_.size(), false), plan_(std::move(plan)) {
  OVIS_CHECK_ARG(plan_.uploads_before.size() == blocks_.size(),
                 "layer offload: the plan covers " + std::to_string(plan_.uploads_before.size()) +
                     " blocks, the model has " + std::to_string(blocks_.size()));
  for (const auto& names : blocks_) {
    std::vector<Tensor> copies;
    for (const std::string& n : names) {
      const Tensor& t = store_.get(n);
      // Block tensors are usually loaded straight to the host (keep_on_host); others come back.
      copies.push_back(be_.pin_host(t.device == DeviceKind::Host ? t : be_.download(t)));
      store_.drop(n);
    }
    host_.push_back(std::move(copies));
  }
}

void LayerStreamer::start_upload(int b) {
  if (uploaded_[size_t(b)]) return;
  const auto& names = blocks_[size_t(b)];
  for (size_t k = 0; k < names.size(); ++k) store_.install(names[k], be_.upload_async(host_[size_t(b)][k]));
  uploaded_[size_t(b)] = true;
}

void LayerStreamer::before(int b) {
  OVIS_CHECK_ARG(b >= 0 && b < int(blocks_.size()), "layer offload: no block " + std::to_string(b));
  for (int j : plan_.uploads_before[size_t(b)]) start_upload(j);
  start_upload(b);  // a forward entered midway still gets its block
  for (const std::string& n : blocks_[size_t(b)]) be_.await_upload(store_.get(n));
}

void LayerStreamer::after(int b) {
  for (const std::string& n : blocks_[size_t(b)]) store_.drop(n);
  uploaded_[size_t(b)] = false;
}

void LayerStreamer::reset() {
  for (size_t b = 0; b < blocks_.size(); ++b) {
    if (!uploaded_[b]) continue;
    // Later work must not reuse these blocks' memory while their copies may still be in flight.
    for (const std::string& n : blocks_[b]) be_.await_upload(store_.get(n));
    after(int(b));
  }
}

}  // namespace ovis
