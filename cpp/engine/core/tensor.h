// Tensor: a typed, shaped, contiguous row-major view of memory owned by a backend (or the host).
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace ovis {

enum class DType : uint8_t { F32 = 0, F16 = 1, BF16 = 2, I32 = 3 };
enum class DeviceKind : uint8_t { Host = 0, Cuda = 1 };

size_t dtype_size(DType t);
const char* dtype_name(DType t);
// Parses "f32"/"F32", "f16"/"F16", "bf16"/"BF16", "i32"; throws ovis::Error(OVIS_BAD_WEIGHTS) otherwise.
DType dtype_from_name(const std::string& s);

// Up to 6 dimensions; row-major, last dimension fastest.
struct Shape {
  int64_t dims[6] = {0, 0, 0, 0, 0, 0};
  int rank = 0;
  Shape() = default;
  Shape(std::initializer_list<int64_t> d);
  explicit Shape(const std::vector<int64_t>& d);
  int64_t operator[](int i) const { return dims[i < 0 ? rank + i : i]; }
  int64_t& operator[](int i) { return dims[i < 0 ? rank + i : i]; }
  int64_t numel() const;
  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }
  std::string str() const;  // "[2, 3, 4]"
};

struct Tensor {
  std::shared_ptr<void> storage;  // keeps the memory alive; null for non-owning views
  void* data = nullptr;
  DType dtype = DType::F32;
  DeviceKind device = DeviceKind::Host;
  Shape shape;

  int64_t numel() const { return shape.numel(); }
  size_t nbytes() const { return size_t(numel()) * dtype_size(dtype); }
  bool defined() const { return data != nullptr || (numel() == 0 && storage != nullptr); }
  template <class T> T* ptr() const { return static_cast<T*>(data); }
  // Same memory, new shape with the same element count (throws on mismatch).
  Tensor view(const Shape& s) const;
};

// A host f32 tensor that owns its memory (inputs/outputs at the engine boundary).
Tensor host_f32(const Shape& s);
Tensor host_alloc(const Shape& s, DType t);
// Non-owning host view of caller memory.
Tensor host_view(void* data, const Shape& s, DType t);

// bf16/f16 <-> f32 conversions (round-to-nearest-even for f32->bf16/f16).
float bf16_to_f32(uint16_t v);
uint16_t f32_to_bf16(float v);
float f16_to_f32(uint16_t v);
uint16_t f32_to_f16(float v);
// Converts n elements of any float dtype to f32.
void convert_to_f32(const void* src, DType t, float* dst, size_t n);

}  // namespace ovis
