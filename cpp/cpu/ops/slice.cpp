// slice: copies x[..., start:start+len, ...] along one axis (any dtype).
#include <cstring>

#include "cpu/ops/common.h"
#include "cpu/ops/ops.h"
#include "cpu/thread_pool.h"

namespace ovis::cpu {

Tensor op_slice(ThreadPool& pool, const Tensor& x, int axis, int64_t start, int64_t len) {
  const int r = x.shape.rank, ax = axis;
  Shape os = x.shape;
  os[ax] = len;
  Tensor out = new_tensor(os, x.dtype);
  int64_t outer = 1, inner = int64_t(dtype_size(x.dtype));
  for (int i = 0; i < ax; ++i) outer *= x.shape[i];
  for (int i = ax + 1; i < r; ++i) inner *= x.shape[i];
  const int64_t src_row = x.shape[ax] * inner, dst_row = len * inner;
  pool.parallel_range(outer, std::max<int64_t>(1, 65536 / std::max<int64_t>(dst_row, 1)), [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; ++i)
      std::memcpy(static_cast<char*>(out.data) + i * dst_row,
                  static_cast<const char*>(x.data) + i * src_row + start * inner, size_t(dst_row));
  });
  return out;
}

}  // namespace ovis::cpu
