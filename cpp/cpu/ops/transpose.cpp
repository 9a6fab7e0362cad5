// transpose_last2: [..., M, N] -> [..., N, M], in cache-sized tiles (any dtype).
#include <cstring>

#include "cpu/ops/common.h"
#include "cpu/ops/ops.h"
#include "cpu/thread_pool.h"

namespace ovis::cpu {

namespace {
template <class T>
void transpose_tiles(const T* src, T* dst, int64_t M, int64_t N, int64_t tile_begin, int64_t tile_end, int64_t tn) {
  constexpr int64_t kT = 32;
  for (int64_t t = tile_begin; t < tile_end; ++t) {
    const int64_t i0 = (t / tn) * kT, j0 = (t % tn) * kT;
    const int64_t i1 = std::min(M, i0 + kT), j1 = std::min(N, j0 + kT);
    for (int64_t j = j0; j < j1; ++j)
      for (int64_t i = i0; i < i1; ++i) dst[j * M + i] = src[i * N + j];
  }
}
}  // namespace

Tensor op_transpose_last2(ThreadPool& pool, const Tensor& x) {
  const int64_t M = x.shape[-2], N = x.shape[-1];
  Shape os = x.shape;
  os[-2] = N;
  os[-1] = M;
  Tensor out = new_tensor(os, x.dtype);
  const int64_t batch = M * N > 0 ? x.numel() / (M * N) : 0;
  const int64_t tm = (M + 31) / 32, tn = (N + 31) / 32, tiles = tm * tn;
  const size_t es = dtype_size(x.dtype);
  pool.parallel_range(batch * tiles, 4, [&](int64_t s, int64_t e) {
    for (int64_t bt = s; bt < e;) {
      const int64_t b = bt / tiles, t0 = bt % tiles, t1 = std::min(tiles, t0 + (e - bt));
      const char* src = static_cast<const char*>(x.data) + size_t(b * M * N) * es;
      char* dst = static_cast<char*>(out.data) + size_t(b * M * N) * es;
      if (es == 4)
        transpose_tiles(reinterpret_cast<const uint32_t*>(src), reinterpret_cast<uint32_t*>(dst), M, N, t0, t1, tn);
      else
        transpose_tiles(reinterpret_cast<const uint16_t*>(src), reinterpret_cast<uint16_t*>(dst), M, N, t0, t1, tn);
      bt += t1 - t0;
    }
  });
  return out;
}

}  // namespace ovis::cpu
