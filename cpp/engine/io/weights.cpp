#include "io/weights.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "core/error.h"
#include "cpu/quant/dequantize.h"
#include "cpu/quant/quantize.h"

namespace ovis {

namespace {

// Converts n elements between weight dtypes through f32, a chunk at a time: block formats are
// dequantized (reading) or quantized round-to-nearest (quantize on load). Chunks are whole blocks.
void convert(const void* src, DType from, void* dst, DType to, size_t n) {
  if (from == to) {
    std::memcpy(dst, src, dtype_bytes(from, int64_t(n)));
    return;
  }
  if (dtype_is_quantized(to) && !cpu::can_quantize(to))
    fail("OVIS_BAD_WEIGHTS", std::string("cannot convert ") + dtype_name(from) + " weights to " + dtype_name(to));
  constexpr size_t kChunk = size_t(1) << 16;  // a multiple of every block size
  std::vector<float> tmp(std::min(n, kChunk));
  const uint8_t* in = static_cast<const uint8_t*>(src);
  uint8_t* out = static_cast<uint8_t*>(dst);
  for (size_t done = 0; done < n;) {
    const size_t m = std::min(kChunk, n - done);
    cpu::weights_to_f32(in + dtype_bytes(from, int64_t(done)), from, tmp.data(), int64_t(m));
    void* o = out + dtype_bytes(to, int64_t(done));
    if (to == DType::F32)
      std::memcpy(o, tmp.data(), m * 4);
    else if (dtype_is_quantized(to))
      cpu::quantize_values(to, tmp.data(), o, int64_t(m));
    else
      for (size_t i = 0; i < m; ++i)
        static_cast<uint16_t*>(o)[i] = to == DType::BF16 ? f32_to_bf16(tmp[i]) : f32_to_f16(tmp[i]);
    done += m;
  }
}

}  // namespace

Tensor assemble_host_tensor(const PlanTensor& t, const std::vector<std::shared_ptr<MappedFile>>& files) {
  auto piece_ptr = [&](const PlanPiece& p, size_t i) {
    if (p.file < 0 || size_t(p.file) >= files.size() || !files[size_t(p.file)])
      fail("OVIS_BAD_WEIGHTS", "tensor " + t.name + ": piece names unknown file index " + std::to_string(p.file));
    std::string what = "tensor " + t.name + (t.pieces.size() > 1 ? " (piece " + std::to_string(i) + ")" : "");
    return files[size_t(p.file)]->range(p.offset, uint64_t(dtype_bytes(p.dtype, p.shape.numel())), what);
  };
  int64_t total = 0;
  for (const PlanPiece& p : t.pieces) total += p.shape.numel();
  if (total != t.shape.numel())
    fail("OVIS_BAD_WEIGHTS", "tensor " + t.name + ": pieces hold " + std::to_string(total) + " elements, shape " +
                                 t.shape.str() + " needs " + std::to_string(t.shape.numel()));
  // Block formats are read byte by byte (no alignment needed); plain dtypes need aligned element views.
  const size_t align = dtype_is_quantized(t.dtype) ? 1 : dtype_size(t.dtype);
  auto as_stored = [&](const PlanPiece& p) { return p.dtype == t.dtype && p.offset % align == 0; };
  // A view of piece i with the given shape; the aliasing shared_ptr keeps its mapping alive.
  auto view_of = [&](size_t i, const Shape& shape) {
    const uint8_t* p = piece_ptr(t.pieces[i], i);
    Tensor view = host_view(const_cast<uint8_t*>(p), shape, t.dtype);
    view.storage = std::shared_ptr<void>(files[size_t(t.pieces[i].file)], const_cast<uint8_t*>(p));
    return view;
  };
  if (t.pieces.size() == 1 && as_stored(t.pieces[0])) return view_of(0, t.shape);
  // A matrix fused from several stored ones (q, k, v -> qkv) stays where it is stored, as row parts:
  // copying it would put the fused weights (GBs at full size) in anonymous memory besides the mapping.
  const int64_t row = t.shape.rank >= 2 && t.shape[0] > 0 ? t.shape.numel() / t.shape[0] : 0;
  const bool rows_as_stored = row > 0 && std::all_of(t.pieces.begin(), t.pieces.end(), [&](const PlanPiece& p) {
                                return as_stored(p) && p.shape.numel() % row == 0;
                              });
  if (t.pieces.size() > 1 && rows_as_stored) {
    std::vector<Tensor> parts;
    for (size_t i = 0; i < t.pieces.size(); ++i) {
      Shape s = t.shape;
      s[0] = t.pieces[i].shape.numel() / row;
      parts.push_back(view_of(i, s));
    }
    return host_row_parts(std::move(parts), t.shape, t.dtype);
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
    dst += dtype_bytes(t.dtype, int64_t(n));
    // The source pages were read once (a conversion, e.g. quantize on load): give them back.
    files[size_t(p.file)]->drop_pages(p.offset, uint64_t(dtype_bytes(p.dtype, p.shape.numel())));
  }
  return out;
}

namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

// Runs a loader, turning host allocation failures into the engine's error.
Tensor load_tensor(const WeightStore::Loader& load, const std::string& name, const Shape& shape) {
  try {
    return load();
  } catch (const std::bad_alloc&) {
    fail("OVIS_OUT_OF_MEMORY", "out of memory loading tensor " + name + " " + shape.str());
  }
}

}  // namespace

WeightStore::WeightStore(const WeightPlan& plan, Backend& backend,
                         const std::function<bool(const std::string& name)>& keep_on_host) {
  std::vector<std::shared_ptr<MappedFile>> files;
  files.reserve(plan.files.size());
  for (size_t i = 0; i < plan.files.size(); ++i) {
    const FileIdentity* expected = i < plan.file_ids.size() ? &plan.file_ids[i] : nullptr;
    files.push_back(std::make_shared<MappedFile>(plan.files[i], expected));
    mapped_.push_back(files.back());
  }
  for (const PlanTensor& t : plan.tensors) {
    // The loader holds the mappings of this tensor's pieces (other slots null): a mapping lives as
    // long as some tensor may need re-assembling from it (or, on the CPU, a view of it is in use).
    std::vector<std::shared_ptr<MappedFile>> own(files.size());
    for (const PlanPiece& p : t.pieces)
      if (p.file >= 0 && size_t(p.file) < files.size()) own[size_t(p.file)] = files[size_t(p.file)];
    const bool on_host = keep_on_host && keep_on_host(t.name);
    Loader load = [t, own, &backend, on_host] {
      Tensor host = assemble_host_tensor(t, own);
      return on_host ? host : backend.upload_weight(host);
    };
    tensors_[t.name] = load_tensor(load, t.name, t.shape);
    loaders_[t.name] = std::move(load);
  }
}

WeightStore::WeightStore(std::map<std::string, Tensor> tensors, std::map<std::string, Loader> loaders)
    : tensors_(std::move(tensors)), loaders_(std::move(loaders)) {
  for (const auto& kv : tensors_)
    if (!kv.second.defined() && kv.second.numel() != 0)
      fail("OVIS_BAD_WEIGHTS", "tensor " + kv.first + " " + kv.second.shape.str() + " has no data");
  for (const auto& kv : loaders_)
    if (!tensors_.count(kv.first) || !kv.second)
      fail("OVIS_BAD_WEIGHTS", "loader for " + kv.first + " has no tensor of that name or is empty");
}

bool WeightStore::can_reload(const std::string& prefix) const {
  bool any = false;
  for (auto it = tensors_.lower_bound(prefix); it != tensors_.end() && starts_with(it->first, prefix); ++it) {
    if (!loaders_.count(it->first)) return false;
    any = true;
  }
  return any;
}

void WeightStore::release(const std::string& prefix) {
  if (!can_reload(prefix)) fail("OVIS_INTERNAL", "weights " + prefix + "* cannot be released: no way to reload them");
  for (auto it = tensors_.lower_bound(prefix); it != tensors_.end() && starts_with(it->first, prefix); ++it) {
    it->second.reset_memory();
  }
}

void WeightStore::install(const std::string& name, const Tensor& t) {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) fail("OVIS_INTERNAL", "install: no tensor " + name);
  if (t.shape != it->second.shape || t.dtype != it->second.dtype)
    fail("OVIS_INTERNAL", "install: tensor " + name + " is " + dtype_name(it->second.dtype) + " " +
                              it->second.shape.str() + ", got " + dtype_name(t.dtype) + " " + t.shape.str());
  it->second = t;
}

void WeightStore::drop(const std::string& name) {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) fail("OVIS_INTERNAL", "drop: no tensor " + name);
  it->second.reset_memory();
}

void WeightStore::reload(const std::string& prefix) {
  for (auto it = tensors_.lower_bound(prefix); it != tensors_.end() && starts_with(it->first, prefix); ++it) {
    Tensor& t = it->second;
    if (t.defined() || t.numel() == 0) continue;
    auto load = loaders_.find(it->first);
    if (load == loaders_.end()) fail("OVIS_INTERNAL", "tensor " + it->first + " was released and has no loader");
    Tensor fresh = load_tensor(load->second, it->first, t.shape);
    if (fresh.shape != t.shape || fresh.dtype != t.dtype)
      fail("OVIS_BAD_WEIGHTS", "tensor " + it->first + " reloaded as " + dtype_name(fresh.dtype) + " " +
                                   fresh.shape.str() + ", was " + dtype_name(t.dtype) + " " + t.shape.str());
    t = std::move(fresh);
  }
}

bool WeightStore::resident(const std::string& prefix) const {
  for (auto it = tensors_.lower_bound(prefix); it != tensors_.end() && starts_with(it->first, prefix); ++it)
    if (!it->second.defined() && it->second.numel() != 0) return false;
  return true;
}

void WeightStore::forget_loaders(const std::function<bool(const std::string& name)>& keep) {
  for (auto it = loaders_.begin(); it != loaders_.end();) {
    if (keep(it->first) || (!tensors_[it->first].defined() && tensors_[it->first].numel() != 0))
      ++it;  // a released tensor keeps its loader: it is its only way back
    else
      it = loaders_.erase(it);
  }
}

void WeightStore::check_files_unchanged() const {
  for (const std::weak_ptr<MappedFile>& weak : mapped_)
    if (std::shared_ptr<MappedFile> file = weak.lock()) file->check_unchanged();
}

const Tensor* WeightStore::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

const Tensor& WeightStore::get(const std::string& name) const {
  const Tensor* t = find(name);
  if (!t)
    fail("OVIS_BAD_WEIGHTS", "weights lack tensor " + name + " (the checkpoint is incomplete or of another model)");
  return *t;
}

const Tensor& WeightStore::get(const std::string& name, const Shape& expected) const {
  const Tensor& t = get(name);
  if (t.shape != expected)
    fail("OVIS_BAD_WEIGHTS", "tensor " + name + " has shape " + t.shape.str() + ", the config needs " + expected.str());
  return t;
}

}  // namespace ovis
