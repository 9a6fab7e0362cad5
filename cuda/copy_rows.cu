// copy_rows: strided row copy with dtype conversion; concat (two calls) and slice (one call) use it.
#include "cuda_common.cuh"
#include "launchers.h"

namespace ovis::cuda {

template <class TS, class TD>
__global__ void copy_rows_kernel(const TS* src, int64_t src_row, int64_t src_off, TD* dst, int64_t dst_row,
                                 int64_t dst_off, int64_t width, int64_t n) {
  OVIS_GRID_LOOP(i, n) {
    const int64_t r = i / width, c = i - r * width;
    dst[r * dst_row + dst_off + c] = from_f32<TD>(to_f32(src[r * src_row + src_off + c]));
  }
}

__global__ void copy_rows_bits(const int32_t* src, int64_t src_row, int64_t src_off, int32_t* dst, int64_t dst_row,
                               int64_t dst_off, int64_t width, int64_t n) {
  OVIS_GRID_LOOP(i, n) {
    const int64_t r = i / width, c = i - r * width;
    dst[r * dst_row + dst_off + c] = src[r * src_row + src_off + c];
  }
}

void launch_copy_rows(const void* src, DType ts, int64_t src_row, int64_t src_off, void* dst, DType td, int64_t dst_row,
                      int64_t dst_off, int64_t rows, int64_t width, cudaStream_t s) {
  const int64_t n = rows * width;
  if (n == 0) return;
  if (ts == DType::I32 || td == DType::I32) {
    if (ts != td) fail("OVIS_BAD_ARGUMENT", "copy: i32 tensors cannot be converted to float");
    copy_rows_bits<<<grid_for(n), kThreads, 0, s>>>(static_cast<const int32_t*>(src), src_row, src_off,
                                                    static_cast<int32_t*>(dst), dst_row, dst_off, width, n);
  } else {
    dispatch_float2(ts, td, [&](auto a, auto b) {
      using TS = decltype(a);
      using TD = decltype(b);
      copy_rows_kernel<TS, TD><<<grid_for(n), kThreads, 0, s>>>(static_cast<const TS*>(src), src_row, src_off,
                                                                static_cast<TD*>(dst), dst_row, dst_off, width, n);
    });
  }
  CUDA_CHECK_LAUNCH();
}

}  // namespace ovis::cuda
