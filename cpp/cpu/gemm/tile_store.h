// Writing micro-tiles into C: a tile cut by the edge of C is computed whole into a buffer and its mr x nr
// corner copied out; the bias is added to each finished tile while it is still in L1.
#pragma once
#include <cstdint>

namespace ovis::cpu {

// kernel(c, ldc, accumulate) computes a full Rows x Cols tile at c; it is pointed at C itself when the tile
// fits, else at a buffer whose mr x nr corner is then stored (added when accumulate) into C.
template <int Rows, int Cols, class Kernel>
inline void run_clipped_tile(float* C, int64_t ldc, int mr, int nr, bool accumulate, Kernel&& kernel) {
  if (mr == Rows && nr == Cols) {
    kernel(C, ldc, accumulate);
    return;
  }
  alignas(64) float tmp[Rows * Cols];
  kernel(tmp, int64_t(Cols), false);
  for (int r = 0; r < mr; ++r) {
    float* cr = C + r * ldc;
    const float* tr = tmp + r * Cols;
    if (accumulate)
      for (int j = 0; j < nr; ++j) cr[j] += tr[j];
    else
      for (int j = 0; j < nr; ++j) cr[j] = tr[j];
  }
}

// C[mr x nr] += bias[j] on column j.
inline void add_bias_tile(float* C, int64_t ldc, int mr, int nr, const float* bias) {
  for (int r = 0; r < mr; ++r) {
    float* cr = C + r * ldc;
    for (int j = 0; j < nr; ++j) cr[j] += bias[j];
  }
}

}  // namespace ovis::cpu
