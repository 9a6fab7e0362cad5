// CpuBackend: forwards each Backend op to its implementation in cpu/ops/.
#include "cpu/cpu_backend.h"

#include "cpu/ops/common.h"
#include "cpu/ops/ops.h"

namespace ovis {

std::unique_ptr<Backend> create_cpu_backend(int threads) {
  if (threads < 0) fail("OVIS_BAD_ARGUMENT", "cpu backend: threads must be >= 0 (0 = all cores), got " + std::to_string(threads));
  return std::make_unique<cpu::CpuBackend>(threads);
}

namespace cpu {

CpuBackend::~CpuBackend() { trim_host_block_cache(); }

void CpuBackend::trim() { trim_host_block_cache(); }

Tensor CpuBackend::alloc(const Shape& s, DType t) { return new_tensor(s, t); }

Tensor CpuBackend::upload(const Tensor& host) {
  require_host(host, "upload", "x");
  return host;  // same memory: memory-mapped weights stay mapped
}

Tensor CpuBackend::to_host_f32(const Tensor& t) { return op_to_host_f32(pool_, t); }
Tensor CpuBackend::cast(const Tensor& t, DType to) { return op_cast(pool_, t, to); }
Tensor CpuBackend::linear(const Tensor& x, const Tensor& w, const Tensor* bias) { return op_linear(pool_, x, w, bias); }
Tensor CpuBackend::embedding(const Tensor& table, const Tensor& ids) { return op_embedding(pool_, table, ids); }
Tensor CpuBackend::silu(const Tensor& x) { return op_silu(pool_, x); }
Tensor CpuBackend::swiglu(const Tensor& x) { return op_swiglu(pool_, x); }
void CpuBackend::add_(Tensor& x, const Tensor& y) { op_add_(pool_, x, y); }
void CpuBackend::gated_add_(Tensor& x, const Tensor& gate, const Tensor& y) { op_gated_add_(pool_, x, gate, y); }
void CpuBackend::axpby_(Tensor& x, float alpha, const Tensor& y, float beta) { op_axpby_(pool_, x, alpha, y, beta); }
Tensor CpuBackend::layer_norm_mod(const Tensor& x, const Tensor* shift, const Tensor* scale, float eps) {
  return op_layer_norm_mod(pool_, x, shift, scale, eps);
}
Tensor CpuBackend::rms_norm(const Tensor& x, const Tensor& w, float eps) { return op_rms_norm(pool_, x, w, eps); }
Tensor CpuBackend::group_norm(const Tensor& x, const Tensor& w, const Tensor& b, int groups, float eps, bool silu) {
  return op_group_norm(pool_, x, w, b, groups, eps, silu);
}
void CpuBackend::rope_interleaved_(Tensor& x, const Tensor& cos, const Tensor& sin) {
  op_rope_interleaved_(pool_, x, cos, sin);
}
void CpuBackend::rope_half_(Tensor& x, const Tensor& cos, const Tensor& sin) { op_rope_half_(pool_, x, cos, sin); }
Tensor CpuBackend::attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale, bool causal,
                             const Tensor* key_mask) {
  return op_attention(pool_, q, k, v, scale, causal, key_mask);
}
Tensor CpuBackend::conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, int stride, int pad_top, int pad_left,
                          int pad_bottom, int pad_right) {
  return op_conv2d(pool_, x, w, bias, stride, pad_top, pad_left, pad_bottom, pad_right);
}
Tensor CpuBackend::upsample_nearest2x(const Tensor& x) { return op_upsample_nearest2x(pool_, x); }
Tensor CpuBackend::concat(const Tensor& a, const Tensor& b, int axis) { return op_concat(pool_, a, b, axis); }
Tensor CpuBackend::slice(const Tensor& x, int axis, int64_t start, int64_t len) {
  return op_slice(pool_, x, axis, start, len);
}
Tensor CpuBackend::transpose_last2(const Tensor& x) { return op_transpose_last2(pool_, x); }

}  // namespace cpu
}  // namespace ovis
