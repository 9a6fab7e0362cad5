// CpuBackend: converts activations to f32 and forwards each checked op to its implementation in cpu/ops/.
#include "cpu/cpu_backend.h"

#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>

#include "cpu/ops/common.h"
#include "cpu/ops/ops.h"

namespace ovis {

std::unique_ptr<Backend> create_cpu_backend(int threads, bool bf16) {
  if (threads < 0)
    fail("OVIS_BAD_ARGUMENT", "cpu backend: threads must be >= 0 (0 = all cores), got " + std::to_string(threads));
  return std::make_unique<cpu::CpuBackend>(threads, bf16);
}

namespace cpu {

CpuBackend::~CpuBackend() { trim_host_block_cache(); }

void CpuBackend::trim() { trim_host_block_cache(); }

size_t CpuBackend::free_memory() {
  // The free blocks this process keeps for reuse (host_block_cache.h) count as available: they are ours.
  const size_t cached = host_block_cache_bytes();
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  size_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit)
    if (key == "MemAvailable:") return kib * 1024 + cached;
#ifdef _SC_AVPHYS_PAGES
  const long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) return size_t(pages) * size_t(page) + cached;
#endif
  return SIZE_MAX;  // unknown: never tile for lack of memory
}

Tensor CpuBackend::alloc(const Shape& s, DType t) { return new_tensor(s, t); }

Tensor CpuBackend::upload(const Tensor& host) {
  require_host(host, "upload", "x");
  return host;  // same memory: memory-mapped weights stay mapped
}

Tensor CpuBackend::to_host_f32(const Tensor& t) {
  return op_to_host_f32(pool_, t.row_parts ? host_copy(t) : t);  // a weight kept in row parts: assembled
}

Tensor CpuBackend::f32(const Tensor& t) { return op_cast(pool_, t, DType::F32); }

template <class F>
void CpuBackend::in_place_f32(Tensor& x, F&& kernel) {
  if (x.dtype == DType::F32) return kernel(x);
  Tensor xf = f32(x);
  kernel(xf);
  const Tensor back = op_cast(pool_, xf, x.dtype);
  std::memcpy(x.data, back.data, x.nbytes());
}

Tensor CpuBackend::do_cast(const Tensor& t, DType to) { return op_cast(pool_, t, to); }
Tensor CpuBackend::do_linear(const Tensor& x, const Tensor& w, const Tensor* bias) {
  return op_linear(pool_, x, w, bias, bf16_);
}
Tensor CpuBackend::do_embedding(const Tensor& table, const Tensor& ids) { return op_embedding(pool_, table, ids); }
Tensor CpuBackend::do_silu(const Tensor& x) { return op_silu(pool_, f32(x)); }
Tensor CpuBackend::do_swiglu(const Tensor& x) { return op_swiglu(pool_, f32(x)); }
void CpuBackend::do_add_(Tensor& x, const Tensor& y) {
  const Tensor yf = f32(y);
  in_place_f32(x, [&](Tensor& xf) { op_add_(pool_, xf, yf); });
}
void CpuBackend::do_gated_add_(Tensor& x, const Tensor& gate, const Tensor& y) {
  const Tensor gf = f32(gate), yf = f32(y);
  in_place_f32(x, [&](Tensor& xf) { op_gated_add_(pool_, xf, gf, yf); });
}
void CpuBackend::do_axpby_(Tensor& x, float alpha, const Tensor& y, float beta) {
  const Tensor yf = f32(y);
  in_place_f32(x, [&](Tensor& xf) { op_axpby_(pool_, xf, alpha, yf, beta); });
}
Tensor CpuBackend::do_layer_norm_mod(const Tensor& x, const Tensor* shift, const Tensor* scale, float eps) {
  const Tensor sh = shift ? f32(*shift) : Tensor(), sc = scale ? f32(*scale) : Tensor();
  return op_layer_norm_mod(pool_, f32(x), shift ? &sh : nullptr, scale ? &sc : nullptr, eps);
}
Tensor CpuBackend::do_rms_norm(const Tensor& x, const Tensor& w, float eps) {
  return op_rms_norm(pool_, f32(x), w, eps);
}
Tensor CpuBackend::do_group_norm(const Tensor& x, const Tensor& w, const Tensor& b, int groups, float eps, bool silu) {
  return op_group_norm(pool_, f32(x), w, b, groups, eps, silu);
}
void CpuBackend::do_rope_(Tensor& x, const Tensor& cos, const Tensor& sin, bool interleaved) {
  in_place_f32(x, [&](Tensor& xf) { op_rope_(pool_, xf, cos, sin, interleaved); });
}
Tensor CpuBackend::do_attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale, bool causal,
                                const Tensor* key_mask) {
  const Tensor mask = key_mask ? f32(*key_mask) : Tensor();
  return (bf16_ ? op_attention_bf16 : op_attention)(pool_, q, k, v, scale, causal, key_mask ? &mask : nullptr);
}
Tensor CpuBackend::do_conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, int stride, int pad_top,
                             int pad_left, int pad_bottom, int pad_right) {
  return op_conv2d(pool_, f32(x), w, bias, stride, pad_top, pad_left, pad_bottom, pad_right);
}
Tensor CpuBackend::do_upsample_nearest2x(const Tensor& x) { return op_upsample_nearest2x(pool_, f32(x)); }
Tensor CpuBackend::do_concat(const Tensor& a, const Tensor& b, int axis) { return op_concat(pool_, a, b, axis); }
Tensor CpuBackend::do_slice(const Tensor& x, int axis, int64_t start, int64_t len) {
  return op_slice(pool_, x, axis, start, len);
}
Tensor CpuBackend::do_transpose_last2(const Tensor& x) { return op_transpose_last2(pool_, x); }

}  // namespace cpu
}  // namespace ovis
