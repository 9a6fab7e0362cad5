#include "model/rope.h"

#include <cmath>

#include "core/error.h"

namespace ovis {

RopeTables rope_axes_tables(Backend& be, const Tensor& ids, const std::vector<int>& axes_dims, float theta) {
  const int n_axes = int(axes_dims.size());
  OVIS_CHECK_ARG(
      ids.device == DeviceKind::Host && ids.dtype == DType::F32 && ids.shape.rank == 2 && ids.shape[1] == n_axes,
      "position ids must be host F32 [S, " + std::to_string(n_axes) + "], got " + ids.shape.str());
  int half = 0;
  for (int d : axes_dims) half += d / 2;
  const int64_t S = ids.shape[0];
  Tensor cos = host_f32({S, half}), sin = host_f32({S, half});
  const float* id = ids.ptr<float>();
  for (int64_t s = 0; s < S; ++s) {
    int col = 0;
    for (int a = 0; a < n_axes; ++a) {
      const int d = axes_dims[a];
      const double pos = double(id[s * n_axes + a]);
      for (int i = 0; i < d / 2; ++i, ++col) {
        const double angle = pos / std::pow(double(theta), double(2 * i) / double(d));
        cos.ptr<float>()[s * half + col] = float(std::cos(angle));
        sin.ptr<float>()[s * half + col] = float(std::sin(angle));
      }
    }
  }
  return {be.upload(cos), be.upload(sin)};
}

RopeTables rope_half_tables(Backend& be, int64_t S, int head_dim, float theta) {
  const int half = head_dim / 2;
  Tensor cos = host_f32({S, half}), sin = host_f32({S, half});
  std::vector<float> inv_freq(static_cast<size_t>(half));
  for (int i = 0; i < half; ++i) {
    const float exponent = float(2 * i) / float(head_dim);
    // The reference loads Qwen3 in bf16, which rounds this buffer to bf16 before it runs in f32: the
    // golden hidden states only match (1e-2 -> 5e-7 rel) with the same rounding.
    inv_freq[size_t(i)] = bf16_to_f32(f32_to_bf16(1.0f / std::pow(theta, exponent)));
  }
  for (int64_t s = 0; s < S; ++s)
    for (int i = 0; i < half; ++i) {
      const float angle = float(s) * inv_freq[size_t(i)];
      cos.ptr<float>()[s * half + i] = float(std::cos(double(angle)));
      sin.ptr<float>()[s * half + i] = float(std::sin(double(angle)));
    }
  return {be.upload(cos), be.upload(sin)};
}

}  // namespace ovis
