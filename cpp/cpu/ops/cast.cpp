// cast (F32 <-> F16 <-> BF16) and to_host_f32 (a converted copy).
#include "cpu/ops/common.h"
#include "cpu/ops/ops.h"
#include "cpu/thread_pool.h"

namespace ovis::cpu {

static float load_any(const void* p, DType t, int64_t i) {
  switch (t) {
    case DType::F32:
      return static_cast<const float*>(p)[i];
    case DType::BF16:
      return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
    default:
      return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
  }
}

Tensor op_cast(ThreadPool& pool, const Tensor& t, DType to) {
  if (t.dtype == to) return t;
  Tensor out = new_tensor(t.shape, to);
  const void* src = t.data;
  const DType from = t.dtype;
  pool.parallel_range(t.numel(), 1 << 15, [&](int64_t b, int64_t e) {
    if (to == DType::F32) {
      convert_to_f32(static_cast<const char*>(src) + b * int64_t(dtype_size(from)), from, out.ptr<float>() + b,
                     size_t(e - b));
    } else {
      uint16_t* d = out.ptr<uint16_t>();
      for (int64_t i = b; i < e; ++i) {
        float v = load_any(src, from, i);
        d[i] = to == DType::BF16 ? f32_to_bf16(v) : f32_to_f16(v);
      }
    }
  });
  return out;
}

Tensor op_to_host_f32(ThreadPool& pool, const Tensor& t) {
  require_float(t, "to_host_f32", "x");
  if (t.dtype != DType::F32) return op_cast(pool, t, DType::F32);
  Tensor out = new_tensor(t.shape);
  pool.parallel_range(t.numel(), 1 << 16, [&](int64_t b, int64_t e) {
    std::copy(t.ptr<float>() + b, t.ptr<float>() + e, out.ptr<float>() + b);
  });
  return out;
}

}  // namespace ovis::cpu
