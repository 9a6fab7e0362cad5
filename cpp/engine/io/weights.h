// WeightStore: every tensor of a WeightPlan assembled from the mapped files and uploaded to a backend,
// looked up by canonical name (docs/WEIGHTS.md).
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/backend.h"
#include "io/mapped_file.h"
#include "io/plan.h"

namespace ovis {

// Assembles one plan tensor on the host: a single piece of the tensor's dtype is a zero-copy view
// into its mapping (kept alive by the returned tensor); anything else is copied/converted.
Tensor assemble_host_tensor(const PlanTensor& t, const std::vector<std::shared_ptr<MappedFile>>& files);

class WeightStore {
 public:
  // Maps the plan's files and uploads every tensor. Throws OVIS_BAD_WEIGHTS naming the file/tensor.
  WeightStore(const WeightPlan& plan, Backend& backend);

  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  // Throws Error("OVIS_BAD_WEIGHTS") naming the tensor when it is not in the plan.
  const Tensor& get(const std::string& name) const;
  // Same, and checks the shape; the error names the tensor, its shape and the expected one.
  const Tensor& get(const std::string& name, const Shape& expected) const;
  // Null when absent.
  const Tensor* find(const std::string& name) const;

 private:
  std::map<std::string, Tensor> tensors_;
  std::vector<std::shared_ptr<MappedFile>> files_;  // kept while the backend may view them (CPU)
};

}  // namespace ovis
