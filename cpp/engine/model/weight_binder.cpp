#include "model/weight_binder.h"

namespace ovis {

const Tensor& StoreBinder::need(const std::string& name, const Shape& shape) const { return store_.get(name, shape); }

const Tensor& SpecRecorder::need(const std::string& name, const Shape& shape) const {
  specs_.push_back({name, shape});
  Tensor t;
  t.shape = shape;
  placeholders_.push_back(t);
  return placeholders_.back();
}

LinearW bind_linear(const WeightBinder& wb, const std::string& p, int64_t out, int64_t in, bool bias) {
  LinearW l;
  l.w = &wb.need(p + ".weight", Shape{out, in});
  if (bias) l.b = &wb.need(p + ".bias", Shape{out});
  return l;
}

ConvW bind_conv(const WeightBinder& wb, const std::string& p, int64_t out, int64_t in, int64_t k) {
  return {&wb.need(p + ".weight", Shape{out, in, k, k}), &wb.need(p + ".bias", Shape{out})};
}

NormW bind_affine_norm(const WeightBinder& wb, const std::string& p, int64_t channels) {
  return {&wb.need(p + ".weight", Shape{channels}), &wb.need(p + ".bias", Shape{channels})};
}

const Tensor* bind_vector(const WeightBinder& wb, const std::string& name, int64_t size) {
  return &wb.need(name, Shape{size});
}

}  // namespace ovis
