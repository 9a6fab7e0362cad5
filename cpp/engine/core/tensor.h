// Tensor: a typed, shaped, contiguous row-major view of memory owned by a backend (or the host).
#pragma once
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace ovis {

// Q* are ggml's block formats (GGUF): a row of K values is K / block_elems blocks of block_bytes;
// a tensor of such a dtype is always 2-D [rows, K] with K a multiple of its block size.
enum class DType : uint8_t {
  F32 = 0,
  F16 = 1,
  BF16 = 2,
  I32 = 3,
  Q4_0,
  Q4_1,
  Q5_0,
  Q5_1,
  Q8_0,
  Q2_K,
  Q3_K,
  Q4_K,
  Q5_K,
  Q6_K
};
enum class DeviceKind : uint8_t { Host = 0, Cuda = 1 };

// Bytes per element of a non-block dtype; throws OVIS_INTERNAL for block formats (use dtype_bytes).
size_t dtype_size(DType t);
bool dtype_is_quantized(DType t);
int64_t dtype_block_elems(DType t);  // 1 for plain dtypes, 32 or 256 for block formats
size_t dtype_block_bytes(DType t);   // bytes of one block (the element size for plain dtypes)
// Bytes of n consecutive elements; throws OVIS_BAD_WEIGHTS when n is not a whole number of blocks.
size_t dtype_bytes(DType t, int64_t n);
const char* dtype_name(DType t);
// Parses "f32", "f16", "bf16", "i32" and the block formats "q8_0", "q4_k", ... (any case);
// throws ovis::Error(OVIS_BAD_WEIGHTS) otherwise.
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
  // A host weight kept where its checkpoint stores it, in several row blocks (e.g. q, k, v as one
  // fused qkv): the parts, in order, are contiguous host tensors of this dtype whose rows stack to
  // `shape`, and `data` is null. Only `linear` reads such a tensor; uploads assemble it on the device.
  std::shared_ptr<const std::vector<Tensor>> row_parts;

  int64_t numel() const { return shape.numel(); }
  size_t nbytes() const { return dtype_bytes(dtype, numel()); }
  bool defined() const { return data != nullptr || row_parts != nullptr || (numel() == 0 && storage != nullptr); }
  // Drops the memory (storage, data and parts).
  void reset_memory() {
    storage.reset();
    data = nullptr;
    row_parts.reset();
  }
  template <class T>
  T* ptr() const {
    return static_cast<T*>(data);
  }
  // Same memory, new shape with the same element count (throws on mismatch).
  Tensor view(const Shape& s) const;
};

// A host f32 tensor that owns its memory (inputs/outputs at the engine boundary).
Tensor host_f32(const Shape& s);
Tensor host_alloc(const Shape& s, DType t);
// Non-owning host view of caller memory.
Tensor host_view(void* data, const Shape& s, DType t);
// A host tensor stored as row blocks (Tensor::row_parts); checks that the parts stack to `shape`.
Tensor host_row_parts(std::vector<Tensor> parts, const Shape& shape, DType t);
// Calls f(ptr, bytes, offset) for each contiguous piece of a host tensor's bytes, in order: the
// tensor itself, or its row parts (what an upload or a host copy of it must copy).
void for_each_host_piece(const Tensor& t, const std::function<void(const void*, size_t, size_t)>& f);
// A contiguous copy of a host tensor in fresh host memory (row parts assembled).
Tensor host_copy(const Tensor& t);

// bf16/f16 <-> f32 conversions (round-to-nearest-even for f32->bf16/f16). bf16 -> f32 is inline: packing
// loops widen one value at a time.
inline float bf16_to_f32(uint16_t v) {
  const uint32_t u = uint32_t(v) << 16;
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}
uint16_t f32_to_bf16(float v);
float f16_to_f32(uint16_t v);
uint16_t f32_to_f16(float v);
// Converts n elements of any float dtype to f32.
void convert_to_f32(const void* src, DType t, float* dst, size_t n);

}  // namespace ovis
