// concat: joins a and b along one axis (any dtype, both the same).
#include <cstring>

#include "cpu/ops/common.h"
#include "cpu/ops/ops.h"
#include "cpu/thread_pool.h"

namespace ovis::cpu {

Tensor op_concat(ThreadPool& pool, const Tensor& a, const Tensor& b, int axis) {
  const int r = a.shape.rank, ax = axis;
  Shape os = a.shape;
  os[ax] = a.shape[ax] + b.shape[ax];
  Tensor out = new_tensor(os, a.dtype);
  int64_t outer = 1, inner = int64_t(dtype_size(a.dtype));
  for (int i = 0; i < ax; ++i) outer *= a.shape[i];
  for (int i = ax + 1; i < r; ++i) inner *= a.shape[i];
  const int64_t na = a.shape[ax] * inner, nb = b.shape[ax] * inner;
  char* o = static_cast<char*>(out.data);
  pool.parallel_range(outer, std::max<int64_t>(1, 65536 / std::max<int64_t>(na + nb, 1)), [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; ++i) {
      std::memcpy(o + i * (na + nb), static_cast<const char*>(a.data) + i * na, size_t(na));
      std::memcpy(o + i * (na + nb) + na, static_cast<const char*>(b.data) + i * nb, size_t(nb));
    }
  });
  return out;
}

}  // namespace ovis::cpu
