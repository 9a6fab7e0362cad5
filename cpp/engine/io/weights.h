// WeightStore: every tensor of a model on a backend, looked up by canonical name (docs/WEIGHTS.md):
// assembled from a WeightPlan's mapped files, or handed over already made (benchmarks, tests).
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/backend.h"
#include "io/mapped_file.h"
#include "io/plan.h"

namespace ovis {

// Assembles one plan tensor on the host: a single piece of the tensor's dtype is a zero-copy view
// into its mapping (kept alive by the returned tensor); a matrix stacked from several such pieces
// (q, k, v -> qkv) is a set of row-part views (Tensor::row_parts), also without a copy; anything else
// (conversions, quantize on load, vectors) is copied/converted into host memory.
Tensor assemble_host_tensor(const PlanTensor& t, const std::vector<std::shared_ptr<MappedFile>>& files);

class WeightStore {
 public:
  // Recreates one tensor on its backend (from the host mapping, or however it was first made).
  using Loader = std::function<Tensor()>;

  // Maps the plan's files and uploads every tensor. Throws OVIS_BAD_WEIGHTS naming the file/tensor.
  // Every tensor gets a loader that re-assembles it from the mapping (see forget_loaders).
  // Tensors for which keep_on_host(name) is true are not uploaded: they stay host tensors (views of the
  // mapping where possible) for layer offload to stream.
  WeightStore(const WeightPlan& plan, Backend& backend,
              const std::function<bool(const std::string& name)>& keep_on_host = nullptr);
  // Tensors already on a backend (benchmarks, tests). `loaders` (optional, by name) let release/reload
  // recreate those tensors; a tensor without one cannot be released.
  explicit WeightStore(std::map<std::string, Tensor> tensors, std::map<std::string, Loader> loaders = {});

  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  // Throws Error("OVIS_BAD_WEIGHTS") naming the tensor when it is not in the plan.
  const Tensor& get(const std::string& name) const;
  // Same, and checks the shape; the error names the tensor, its shape and the expected one.
  const Tensor& get(const std::string& name, const Shape& expected) const;
  // Null when absent.
  const Tensor* find(const std::string& name) const;
  // Every tensor, by name (released ones keep their shape and dtype, without data).
  const std::map<std::string, Tensor>& tensors() const { return tensors_; }

  // ---- releasing a group of tensors (names starting with `prefix`, e.g. "te.") ----
  // Entries stay in place (models keep pointers to them); only their memory goes.
  // True when the group is non-empty and every tensor of it has a loader.
  bool can_reload(const std::string& prefix) const;
  // Drops the group's memory. Throws OVIS_INTERNAL when can_reload(prefix) is false.
  void release(const std::string& prefix);
  // Recreates the released tensors of the group through their loaders (no-op when all are resident).
  void reload(const std::string& prefix);
  // True when every tensor of the group holds its memory.
  bool resident(const std::string& prefix) const;
  // ---- one tensor at a time (layer offload streams blocks through these entries) ----
  // Gives a present entry new memory of the same shape and dtype (OVIS_INTERNAL otherwise).
  void install(const std::string& name, const Tensor& t);
  // Drops an entry's memory, keeping its shape and dtype.
  void drop(const std::string& name);
  // Drops the loaders of tensors for which keep(name) is false, and with them the file mappings
  // only they held (a device backend copied the bytes; the CPU backend's views keep their mapping).
  void forget_loaders(const std::function<bool(const std::string& name)>& keep);

  // Throws Error("OVIS_WEIGHTS_CHANGED") when a file still mapped (views on the CPU, or loaders
  // kept for a reload) was truncated, rewritten or replaced since it was mapped: reading it could
  // kill the process (SIGBUS) or silently use other weights. Cheap: one stat per file.
  void check_files_unchanged() const;

 private:
  std::vector<std::weak_ptr<MappedFile>> mapped_;  // expire once no tensor or loader needs them
  std::map<std::string, Tensor> tensors_;
  std::map<std::string, Loader> loaders_;
};

}  // namespace ovis
