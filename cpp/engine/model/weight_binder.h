// How a model constructor asks for its weights. Each constructor names every canonical tensor it
// needs, with the shape its config implies, exactly once; that one declaration both binds the
// weights (StoreBinder) and lists the canonical tensors (SpecRecorder, io/canonical_tensors.h).
#pragma once
#include <deque>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/weights.h"

namespace ovis {

struct TensorSpec {
  std::string name;
  Shape shape;
};

class WeightBinder {
 public:
  virtual ~WeightBinder() = default;
  // The tensor `name`, which must have `shape`.
  virtual const Tensor& need(const std::string& name, const Shape& shape) const = 0;
  // Whether an optional tensor is present.
  virtual bool has(const std::string& name) const = 0;
};

// Binds to loaded weights: a missing or misshapen tensor is Error OVIS_BAD_WEIGHTS naming it.
class StoreBinder : public WeightBinder {
 public:
  explicit StoreBinder(const WeightStore& store) : store_(store) {}
  const Tensor& need(const std::string& name, const Shape& shape) const override;
  bool has(const std::string& name) const override { return store_.has(name); }

 private:
  const WeightStore& store_;
};

// Binds nothing: records each declared tensor and hands back a shape-only placeholder. Optional
// tensors count as absent, so the record is what the config requires.
class SpecRecorder : public WeightBinder {
 public:
  const Tensor& need(const std::string& name, const Shape& shape) const override;
  bool has(const std::string&) const override { return false; }
  const std::vector<TensorSpec>& specs() const { return specs_; }

 private:
  // The constructor being recorded keeps pointers to these, so they must not move.
  mutable std::deque<Tensor> placeholders_;
  mutable std::vector<TensorSpec> specs_;
};

// A layer's `<prefix>.weight` and `<prefix>.bias`.
struct WeightBias {
  const Tensor* w = nullptr;
  const Tensor* b = nullptr;  // null when the layer has no bias
};
using LinearW = WeightBias;
using ConvW = WeightBias;
using NormW = WeightBias;

// Linear weight [out, in] (+ bias [out]).
LinearW bind_linear(const WeightBinder& wb, const std::string& prefix, int64_t out, int64_t in, bool bias = true);
// NCHW conv kernel [out, in, k, k] and bias [out].
ConvW bind_conv(const WeightBinder& wb, const std::string& prefix, int64_t out, int64_t in, int64_t k);
// Affine norm: weight and bias [channels].
NormW bind_affine_norm(const WeightBinder& wb, const std::string& prefix, int64_t channels);
// A single vector `name` of `size` values (norm weights without bias).
const Tensor* bind_vector(const WeightBinder& wb, const std::string& name, int64_t size);

}  // namespace ovis
