// embedding: gathers rows of a (possibly bf16) table by I32 ids, converting each row to f32.
#include <cstring>

#include "cpu/ops/common.h"
#include "cpu/ops/ops.h"
#include "cpu/thread_pool.h"

namespace ovis::cpu {

Tensor op_embedding(ThreadPool& pool, const Tensor& table, const Tensor& ids) {
  const char* op = "embedding";
  const int64_t V = table.shape[0], H = table.shape[1], n = ids.numel();
  const int32_t* id = ids.ptr<int32_t>();
  for (int64_t i = 0; i < n; ++i)
    if (id[i] < 0 || id[i] >= V)
      bad_arg(op, "id " + std::to_string(id[i]) + " at index " + std::to_string(i) + " is outside [0, " +
                      std::to_string(V) + ")");
  Shape os = ids.shape;
  os.dims[os.rank++] = H;
  Tensor out = new_tensor(os);
  const size_t es = dtype_size(table.dtype);
  pool.parallel_range(n, 8, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      convert_to_f32(static_cast<const char*>(table.data) + size_t(id[i]) * size_t(H) * es, table.dtype,
                     out.ptr<float>() + i * H, size_t(H));
  });
  return out;
}

}  // namespace ovis::cpu
