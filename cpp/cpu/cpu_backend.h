// CpuBackend: the Backend interface on the host, f32 compute (optionally bf16 products in the linear
// layers and attention), one thread pool per backend.
#pragma once
#include <memory>

#include "core/backend.h"
#include "cpu/thread_pool.h"

namespace ovis::cpu {

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int threads, bool bf16 = false) : pool_(threads), bf16_(bf16) {}
  ~CpuBackend() override;
  std::string name() const override { return "cpu"; }
  DeviceKind device() const override { return DeviceKind::Host; }
  int threads() const { return pool_.size(); }
  ThreadPool& pool() { return pool_; }

  Tensor alloc(const Shape& s, DType t) override;
  Tensor upload(const Tensor& host) override;
  Tensor to_host_f32(const Tensor& t) override;
  // Frees the cached free blocks of large op outputs (cpu/host_block_cache.h).
  void trim() override;
  // MemAvailable from /proc/meminfo (available physical pages where that file is missing).
  size_t free_memory() override;

 protected:
  Tensor do_cast(const Tensor& t, DType to) override;
  Tensor do_linear(const Tensor& x, const Tensor& w, const Tensor* bias) override;
  Tensor do_embedding(const Tensor& table, const Tensor& ids) override;
  Tensor do_silu(const Tensor& x) override;
  Tensor do_swiglu(const Tensor& x) override;
  void do_add_(Tensor& x, const Tensor& y) override;
  void do_gated_add_(Tensor& x, const Tensor& gate, const Tensor& y) override;
  void do_axpby_(Tensor& x, float alpha, const Tensor& y, float beta) override;
  Tensor do_layer_norm_mod(const Tensor& x, const Tensor* shift, const Tensor* scale, float eps) override;
  Tensor do_rms_norm(const Tensor& x, const Tensor& w, float eps) override;
  Tensor do_group_norm(const Tensor& x, const Tensor& w, const Tensor& b, int groups, float eps, bool silu) override;
  void do_rope_(Tensor& x, const Tensor& cos, const Tensor& sin, bool interleaved) override;
  Tensor do_attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale, bool causal,
                      const Tensor* key_mask) override;
  Tensor do_conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, int stride, int pad_top, int pad_left,
                   int pad_bottom, int pad_right) override;
  Tensor do_upsample_nearest2x(const Tensor& x) override;
  Tensor do_concat(const Tensor& a, const Tensor& b, int axis) override;
  Tensor do_slice(const Tensor& x, int axis, int64_t start, int64_t len) override;
  Tensor do_transpose_last2(const Tensor& x) override;
  Tensor do_download(const Tensor& t) override { return t; }  // already host memory

 private:
  // The CPU kernels read f32 activations: t itself when f32, else a converted copy.
  Tensor f32(const Tensor& t);
  // Runs an in-place kernel on x as f32, writing the result back when x is f16/bf16.
  template <class F>
  void in_place_f32(Tensor& x, F&& kernel);

  ThreadPool pool_;
  bool bf16_;  // precision 'bf16' asked for (gemm_bf16 falls back to f32 without AVX512-BF16)
};

}  // namespace ovis::cpu
