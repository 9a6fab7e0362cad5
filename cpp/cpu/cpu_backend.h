// CpuBackend: the Backend interface on the host, f32 compute, one thread pool per backend.
#pragma once
#include <memory>

#include "core/backend.h"
#include "cpu/thread_pool.h"

namespace ovis::cpu {

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int threads) : pool_(threads) {}
  ~CpuBackend() override;
  std::string name() const override { return "cpu"; }
  DeviceKind device() const override { return DeviceKind::Host; }
  int threads() const { return pool_.size(); }
  ThreadPool& pool() { return pool_; }

  Tensor alloc(const Shape& s, DType t) override;
  Tensor upload(const Tensor& host) override;
  Tensor to_host_f32(const Tensor& t) override;
  Tensor cast(const Tensor& t, DType to) override;
  // Frees the cached free blocks of large op outputs (cpu/host_block_cache.h).
  void trim() override;

  Tensor linear(const Tensor& x, const Tensor& w, const Tensor* bias) override;
  Tensor embedding(const Tensor& table, const Tensor& ids) override;
  Tensor silu(const Tensor& x) override;
  Tensor swiglu(const Tensor& x) override;
  void add_(Tensor& x, const Tensor& y) override;
  void gated_add_(Tensor& x, const Tensor& gate, const Tensor& y) override;
  void axpby_(Tensor& x, float alpha, const Tensor& y, float beta) override;
  Tensor layer_norm_mod(const Tensor& x, const Tensor* shift, const Tensor* scale, float eps) override;
  Tensor rms_norm(const Tensor& x, const Tensor& w, float eps) override;
  Tensor group_norm(const Tensor& x, const Tensor& w, const Tensor& b, int groups, float eps, bool silu) override;
  void rope_interleaved_(Tensor& x, const Tensor& cos, const Tensor& sin) override;
  void rope_half_(Tensor& x, const Tensor& cos, const Tensor& sin) override;
  Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale, bool causal,
                   const Tensor* key_mask) override;
  Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, int stride, int pad_top, int pad_left,
                int pad_bottom, int pad_right) override;
  Tensor upsample_nearest2x(const Tensor& x) override;
  Tensor concat(const Tensor& a, const Tensor& b, int axis) override;
  Tensor slice(const Tensor& x, int axis, int64_t start, int64_t len) override;
  Tensor transpose_last2(const Tensor& x) override;

 private:
  ThreadPool pool_;
};

}  // namespace ovis::cpu
