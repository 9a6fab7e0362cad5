// LayerStreamer: carries out an OffloadPlan on a Backend. The blocks' weights live in the WeightStore as
// released entries (shape and dtype only); their host copies are pinned once. Before block i runs, the
// uploads the plan puts there are started on the backend's copy stream and block i's are awaited; after
// it ran, its device copies are dropped, so only the plan's window is ever resident.
#pragma once
#include <string>
#include <vector>

#include "core/backend.h"
#include "io/weights.h"
#include "offload_plan.h"

namespace ovis {

class LayerStreamer {
 public:
  // blocks[i]: the store's tensor names of block i (run order). Their current contents (host or device)
  // are copied to pinned host memory and released from the store.
  LayerStreamer(Backend& be, WeightStore& store, std::vector<std::vector<std::string>> blocks, OffloadPlan plan);
  LayerStreamer(const LayerStreamer&) = delete;
  LayerStreamer& operator=(const LayerStreamer&) = delete;

  void before(int block);  // starts the planned uploads, then waits for this block's
  void after(int block);   // drops this block's device copies
  // Drops every streamed block still resident (a forward that threw midway).
  void reset();

  const OffloadPlan& plan() const { return plan_; }

 private:
  void start_upload(int block);

  Backend& be_;
  WeightStore& store_;
  std::vector<std::vector<std::string>> blocks_;
  std::vector<std::vector<Tensor>> host_;  // pinned copies, by block then tensor
  std::vector<bool> uploaded_;
  OffloadPlan plan_;
};

// Bytes of each block's tensors in the store (what plan_layer_offload takes).
std::vector<size_t> block_bytes(const WeightStore& store, const std::vector<std::vector<std::string>>& blocks);

}  // namespace ovis
