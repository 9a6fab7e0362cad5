#include "io/weights.h"

#include <cstring>
#include <new>

#include "core/error.h"

namespace ovis {

namespace {

// Converts n elements between float dtypes (through f32).
void convert(const void* src, DType from, void* dst, DType to, size_t n) {
  if (from == to) {
    std::memcpy(dst, src, n * dtype_size(from));
    return;
  }
  if (to == DType::F32) {
    convert_to_f32(src, from, static_cast<float*>(dst), n);
    return;
  }
  std::vector<float> tmp(n);
  convert_to_f32(src, from, tmp.data(), n);
  uint16_t* out = static_cast<uint16_t*>(dst);
  for (size_t i = 0; i < n; ++i) out[i] = to == DType::BF16 ? f32_to_bf16(tmp[i]) : f32_to_f16(tmp[i]);
}

}  // namespace

Tensor assemble_host_tensor(const PlanTensor& t, const std::vector<std::shared_ptr<MappedFile>>& files) {
  auto piece_ptr = [&](const PlanPiece& p, size_t i) {
    if (p.file < 0 || size_t(p.file) >= files.size() || !files[size_t(p.file)])
      fail("OVIS_BAD_WEIGHTS", "tensor " + t.name + ": piece names unknown file index " + std::to_string(p.file));
    std::string what = "tensor " + t.name + (t.pieces.size() > 1 ? " (piece " + std::to_string(i) + ")" : "");
    return files[size_t(p.file)]->range(p.offset, uint64_t(p.shape.numel()) * dtype_size(p.dtype), what);
  };
  int64_t total = 0;
  for (const PlanPiece& p : t.pieces) total += p.shape.numel();
  if (total != t.shape.numel())
    fail("OVIS_BAD_WEIGHTS", "tensor " + t.name + ": pieces hold " + std::to_string(total) +
                                 " elements, shape " + t.shape.str() + " needs " + std::to_string(t.shape.numel()));
  if (t.pieces.size() == 1 && t.pieces[0].dtype == t.dtype && t.pieces[0].offset % dtype_size(t.dtype) == 0) {
    const uint8_t* p = piece_ptr(t.pieces[0], 0);
    Tensor view = host_view(const_cast<uint8_t*>(p), t.shape, t.dtype);
    // Aliasing shared_ptr: the view keeps its mapping alive.
    view.storage = std::shared_ptr<void>(files[size_t(t.pieces[0].file)], const_cast<uint8_t*>(p));
    return view;
  }
  Tensor out;
  try {
    out = host_alloc(t.shape, t.dtype);
  } catch (const std::bad_alloc&) {
    fail("OVIS_OUT_OF_MEMORY", "out of host memory assembling tensor " + t.name);
  }
  uint8_t* dst = static_cast<uint8_t*>(out.data);
  for (size_t i = 0; i < t.pieces.size(); ++i) {
    const PlanPiece& p = t.pieces[i];
    size_t n = size_t(p.shape.numel());
    convert(piece_ptr(p, i), p.dtype, dst, t.dtype, n);
    dst += n * dtype_size(t.dtype);
  }
  return out;
}

WeightStore::WeightStore(const WeightPlan& plan, Backend& backend) {
  files_.reserve(plan.files.size());
  for (const std::string& path : plan.files) files_.push_back(std::make_shared<MappedFile>(path));
  for (const PlanTensor& t : plan.tensors) {
    Tensor host = assemble_host_tensor(t, files_);
    try {
      tensors_[t.name] = backend.upload(host);
    } catch (const std::bad_alloc&) {
      fail("OVIS_OUT_OF_MEMORY", "out of memory uploading tensor " + t.name + " " + t.shape.str());
    }
  }
  // A device backend copied everything: the mappings are no longer needed.
  if (backend.device() != DeviceKind::Host) files_.clear();
}

const Tensor* WeightStore::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

const Tensor& WeightStore::get(const std::string& name) const {
  const Tensor* t = find(name);
  if (!t) fail("OVIS_BAD_WEIGHTS", "weights lack tensor " + name + " (the checkpoint is incomplete or of another model)");
  return *t;
}

const Tensor& WeightStore::get(const std::string& name, const Shape& expected) const {
  const Tensor& t = get(name);
  if (t.shape != expected)
    fail("OVIS_BAD_WEIGHTS", "tensor " + name + " has shape " + t.shape.str() + ", the config needs " + expected.str());
  return t;
}

}  // namespace ovis
