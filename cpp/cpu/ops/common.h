// Shared argument checks and small helpers for the CPU ops.
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"
#include "cpu/host_block_cache.h"

namespace ovis::cpu {

inline std::string describe(const Tensor& t) { return t.shape.str() + " " + dtype_name(t.dtype); }

// Fails with OVIS_BAD_ARGUMENT naming the op and the argument.
[[noreturn]] inline void bad_arg(const char* op, const std::string& what) {
  fail("OVIS_BAD_ARGUMENT", std::string(op) + ": " + what);
}

inline void require_host(const Tensor& t, const char* op, const char* name) {
  if (!t.defined()) bad_arg(op, std::string(name) + " is undefined");
  if (t.device != DeviceKind::Host) bad_arg(op, std::string(name) + " is not a host tensor");
}

inline void require_f32(const Tensor& t, const char* op, const char* name) {
  require_host(t, op, name);
  if (t.dtype != DType::F32) bad_arg(op, std::string(name) + " must be f32, got " + describe(t));
}

inline bool is_float(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

inline void require_float(const Tensor& t, const char* op, const char* name) {
  require_host(t, op, name);
  if (!is_float(t.dtype)) bad_arg(op, std::string(name) + " must be f32, f16 or bf16, got " + describe(t));
}

// f32 pointer to a (small) float tensor: the data itself if F32, else a converted copy in `tmp`.
inline const float* as_f32(const Tensor& t, std::vector<float>& tmp) {
  if (t.dtype == DType::F32) return t.ptr<float>();
  tmp.resize(size_t(t.numel()));
  convert_to_f32(t.data, t.dtype, tmp.data(), tmp.size());
  return tmp.data();
}

// Allocates an uninitialised host tensor (F32 unless told otherwise); large ones may reuse a cached block.
inline Tensor new_tensor(const Shape& s, DType t = DType::F32) { return cached_host_alloc(s, t); }

}  // namespace ovis::cpu
