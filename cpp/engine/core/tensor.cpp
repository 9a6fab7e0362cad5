// Tensor basics: shapes, host allocation, views and float-format conversions.
#include "core/tensor.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "core/error.h"

namespace ovis {

namespace {

struct DTypeInfo {
  DType type;
  const char* name;
  int64_t block_elems;
  size_t block_bytes;
};

// Block sizes of ggml's formats: 32-value blocks with f16 scale(s), 256-value super-blocks for K-quants.
constexpr DTypeInfo kDTypes[] = {
    {DType::F32, "f32", 1, 4},       {DType::F16, "f16", 1, 2},       {DType::BF16, "bf16", 1, 2},
    {DType::I32, "i32", 1, 4},       {DType::Q4_0, "q4_0", 32, 18},   {DType::Q4_1, "q4_1", 32, 20},
    {DType::Q5_0, "q5_0", 32, 22},   {DType::Q5_1, "q5_1", 32, 24},   {DType::Q8_0, "q8_0", 32, 34},
    {DType::Q2_K, "q2_k", 256, 84},  {DType::Q3_K, "q3_k", 256, 110}, {DType::Q4_K, "q4_k", 256, 144},
    {DType::Q5_K, "q5_k", 256, 176}, {DType::Q6_K, "q6_k", 256, 210},
};

const DTypeInfo& info(DType t) {
  for (const DTypeInfo& i : kDTypes)
    if (i.type == t) return i;
  fail("OVIS_INTERNAL", "unknown dtype " + std::to_string(int(t)));
}

}  // namespace

size_t dtype_size(DType t) {
  if (dtype_is_quantized(t))
    fail("OVIS_INTERNAL", std::string("dtype_size: ") + dtype_name(t) + " is a block format (no per-element size)");
  return info(t).block_bytes;
}

bool dtype_is_quantized(DType t) { return info(t).block_elems > 1; }
int64_t dtype_block_elems(DType t) { return info(t).block_elems; }
size_t dtype_block_bytes(DType t) { return info(t).block_bytes; }

size_t dtype_bytes(DType t, int64_t n) {
  const DTypeInfo& i = info(t);
  if (n % i.block_elems)
    fail("OVIS_BAD_WEIGHTS",
         std::to_string(n) + " values are not whole " + i.name + " blocks of " + std::to_string(i.block_elems));
  return size_t(n / i.block_elems) * i.block_bytes;
}

const char* dtype_name(DType t) {
  for (const DTypeInfo& i : kDTypes)
    if (i.type == t) return i.name;
  return "unknown";
}

DType dtype_from_name(const std::string& s) {
  std::string l;
  for (char c : s) l += char(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  for (const DTypeInfo& i : kDTypes)
    if (l == i.name) return i.type;
  fail("OVIS_BAD_WEIGHTS",
       "unknown dtype '" + s + "' (expected f32, f16, bf16, i32 or a ggml block format such as q8_0)");
}

static void check_dims(const int64_t* d, size_t n) {
  if (n > 6) fail("OVIS_BAD_ARGUMENT", "Shape: rank " + std::to_string(n) + " > 6");
  for (size_t i = 0; i < n; ++i)
    if (d[i] < 0) fail("OVIS_BAD_ARGUMENT", "Shape: negative dimension " + std::to_string(d[i]));
}

Shape::Shape(std::initializer_list<int64_t> d) {
  check_dims(d.begin(), d.size());
  rank = int(d.size());
  int i = 0;
  for (int64_t v : d) dims[i++] = v;
}

Shape::Shape(const std::vector<int64_t>& d) {
  check_dims(d.data(), d.size());
  rank = int(d.size());
  for (int i = 0; i < rank; ++i) dims[i] = d[size_t(i)];
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < rank; ++i) n *= dims[i];
  return n;
}

bool Shape::operator==(const Shape& o) const {
  if (rank != o.rank) return false;
  for (int i = 0; i < rank; ++i)
    if (dims[i] != o.dims[i]) return false;
  return true;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < rank; ++i) {
    if (i) s += ", ";
    s += std::to_string(dims[i]);
  }
  return s + "]";
}

Tensor Tensor::view(const Shape& s) const {
  if (s.numel() != numel())
    fail("OVIS_BAD_ARGUMENT", "view: cannot view " + shape.str() + " as " + s.str() + " (element counts differ)");
  if (row_parts && s != shape) fail("OVIS_INTERNAL", "view: a weight stored in row parts cannot be reshaped");
  Tensor t = *this;
  t.shape = s;
  return t;
}

Tensor host_row_parts(std::vector<Tensor> parts, const Shape& shape, DType t) {
  if (shape.rank < 1 || parts.empty()) fail("OVIS_INTERNAL", "row parts need a shape with rows and at least one part");
  int64_t rows = 0;
  for (const Tensor& p : parts) {
    bool same_rows = p.shape.rank == shape.rank;
    for (int i = 1; same_rows && i < shape.rank; ++i) same_rows = p.shape[i] == shape[i];
    if (!same_rows || p.dtype != t || p.device != DeviceKind::Host || !p.data || p.row_parts)
      fail("OVIS_INTERNAL", "row part " + p.shape.str() + " " + dtype_name(p.dtype) + " does not fit " + shape.str() +
                                " " + dtype_name(t));
    rows += p.shape[0];
  }
  if (rows != shape[0])
    fail("OVIS_INTERNAL",
         "row parts hold " + std::to_string(rows) + " rows, " + shape.str() + " needs " + std::to_string(shape[0]));
  Tensor r;
  r.dtype = t;
  r.device = DeviceKind::Host;
  r.shape = shape;
  r.row_parts = std::make_shared<const std::vector<Tensor>>(std::move(parts));
  return r;
}

void for_each_host_piece(const Tensor& t, const std::function<void(const void*, size_t, size_t)>& f) {
  if (!t.row_parts) {
    if (t.nbytes() > 0) f(t.data, t.nbytes(), 0);
    return;
  }
  size_t offset = 0;
  for (const Tensor& p : *t.row_parts) {
    f(p.data, p.nbytes(), offset);
    offset += p.nbytes();
  }
}

Tensor host_copy(const Tensor& t) {
  if (t.device != DeviceKind::Host) fail("OVIS_INTERNAL", "host_copy: not a host tensor");
  Tensor out = host_alloc(t.shape, t.dtype);
  for_each_host_piece(t, [&](const void* p, size_t bytes, size_t offset) {
    std::memcpy(static_cast<uint8_t*>(out.data) + offset, p, bytes);
  });
  return out;
}

Tensor host_alloc(const Shape& s, DType t) {
  size_t bytes = dtype_bytes(t, s.numel());
  // 64-byte alignment for SIMD loads; never a zero-size block so `data` is always non-null.
  size_t padded = ((bytes + 63) / 64) * 64;
  if (padded == 0) padded = 64;
  void* p = std::aligned_alloc(64, padded);
  if (!p) fail("OVIS_OUT_OF_MEMORY", "host allocation of " + std::to_string(bytes) + " bytes failed for " + s.str());
  Tensor r;
  r.storage = std::shared_ptr<void>(p, [](void* q) { std::free(q); });
  r.data = p;
  r.dtype = t;
  r.device = DeviceKind::Host;
  r.shape = s;
  return r;
}

Tensor host_f32(const Shape& s) { return host_alloc(s, DType::F32); }

Tensor host_view(void* data, const Shape& s, DType t) {
  Tensor r;
  r.data = data;
  r.dtype = t;
  r.device = DeviceKind::Host;
  r.shape = s;
  return r;
}

uint16_t f32_to_bf16(float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // quiet NaN stays NaN
  u += 0x7fffu + ((u >> 16) & 1u);                                         // round to nearest even
  return uint16_t(u >> 16);
}

float f16_to_f32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t man = h & 0x3ffu;
  uint32_t u;
  if (exp == 0) {
    if (man == 0) {
      u = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        man <<= 1;
        ++e;
      } while (!(man & 0x400u));
      u = sign | uint32_t(127 - 15 - e) << 23 | (man & 0x3ffu) << 13;
    }
  } else if (exp == 31) {
    u = sign | 0x7f800000u | man << 13;
  } else {
    u = sign | (exp + 112) << 23 | man << 13;
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t f32_to_f16(float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return uint16_t(sign | 0x7e00u);   // NaN
  if (a >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // overflow (>= 65520 rounds to inf) or inf
  if (a < 0x38800000u) {                                  // below the smallest normal f16: subnormal or zero
    if (a < 0x33000000u) return sign;                     // < 2^-25 rounds to zero
    uint32_t e = a >> 23;
    uint32_t man = (a & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - e;  // 14 + (113 - e) - 1 + ... : value = man * 2^(e-150), f16 unit 2^-24
    // f16 subnormal count = value / 2^-24 = man * 2^(e - 126)
    uint32_t q = man >> shift;
    uint32_t rem = man & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1u))) ++q;
    return uint16_t(sign | q);
  }
  uint32_t r = a + 0xfffu + ((a >> 13) & 1u) - (112u << 23);  // rebias and round to nearest even
  return uint16_t(sign | (r >> 13));
}

void convert_to_f32(const void* src, DType t, float* dst, size_t n) {
  switch (t) {
    case DType::F32:
      std::memcpy(dst, src, n * 4);
      return;
    case DType::BF16: {
      const uint16_t* s = static_cast<const uint16_t*>(src);
      for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
      return;
    }
    case DType::F16: {
      const uint16_t* s = static_cast<const uint16_t*>(src);
      for (size_t i = 0; i < n; ++i) dst[i] = f16_to_f32(s[i]);
      return;
    }
    default:
      break;
  }
  fail("OVIS_BAD_ARGUMENT", std::string("convert_to_f32: dtype ") + dtype_name(t) + " is not a float type");
}

}  // namespace ovis
