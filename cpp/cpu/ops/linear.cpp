// linear: y[..., N] = x[..., K] · w[N, K]^T (+ bias), the packed GEMM reading bf16/f16/f32 or
// block-quantized weights (dequantized while packing), in one piece or in row parts; with bf16 set,
// bf16 products (gemm_bf16.h).
#include <vector>

#include "cpu/gemm/gemm.h"
#include "cpu/gemm/gemm_bf16.h"
#include "cpu/ops/common.h"
#include "cpu/ops/ops.h"
#include "cpu/thread_pool.h"

namespace ovis::cpu {

Tensor op_linear(ThreadPool& pool, const Tensor& x, const Tensor& w, const Tensor* bias, bool bf16) {
  const int64_t K = x.shape[-1], N = w.shape[0];
  std::vector<float> bias_tmp;
  const float* bp = bias ? as_f32(*bias, bias_tmp) : nullptr;
  Shape os = x.shape;
  os[-1] = N;
  Tensor y = new_tensor(os);
  int64_t rows = 1;  // product of the leading dims (K may be 0, so not numel / K)
  for (int i = 0; i + 1 < x.shape.rank; ++i) rows *= x.shape[i];
  StridedA A(x.data, x.dtype, K, 1);
  // A weight in row parts (as its checkpoint stores it) is one product per part into its columns of y:
  // each output value is the same sum as with the assembled weight.
  const std::vector<Tensor> whole{w};
  int64_t col = 0;
  for (const Tensor& part : w.row_parts ? *w.row_parts : whole) {
    StridedB B(part.data, part.dtype, 1, K);
    const float* part_bias = bp ? bp + col : nullptr;  // goes in while each output tile is hot
    if (bf16)
      gemm_bf16(&pool, rows, part.shape[0], K, A, B, y.ptr<float>() + col, N, part_bias);
    else
      gemm(&pool, rows, part.shape[0], K, A, B, y.ptr<float>() + col, N, part_bias);
    col += part.shape[0];
  }
  return y;
}

}  // namespace ovis::cpu
