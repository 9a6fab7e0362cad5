// CudaBackend: ovis::Backend on one CUDA device (cuBLASLt GEMMs, flash attention, fused kernels).
// Everything runs on one stream owned by the backend; memory comes from a caching allocator.
// Precision: fp32 mode keeps f32 activations and GEMMs (no TF32); bf16 mode returns bf16 activations
// from GEMMs/norms/elementwise ops with f32 math inside every kernel (DESIGN.md decision 5).
#pragma once
#include <cuda_runtime.h>

#include <map>
#include <memory>
#include <string>

#include "core/backend.h"
#include "device_allocator.h"
#include "gemm_lt.h"
#include "path_stats.h"

namespace ovis::cuda {

// The GEMM operand and output dtypes for a weight dtype, in one place for linear and conv2d.
struct GemmTypes {
  DType operand, out;
};

class CudaBackend final : public Backend {
 public:
  // Use create_cuda_backend(), which checks the device and loads cuBLASLt first.
  CudaBackend(int device, bool fp32, const CublasLtApi& lt);
  ~CudaBackend() override;

  std::string name() const override;
  DeviceKind device() const override { return DeviceKind::Cuda; }

  Tensor alloc(const Shape& s, DType t) override;
  Tensor upload(const Tensor& host) override;
  // Float weights are stored once in the GEMM operand dtype (bf16, or f32 in fp32 mode).
  Tensor upload_weight(const Tensor& host) override;
  Tensor to_host_f32(const Tensor& t) override;
  void sync() override;
  void trim() override;
  size_t free_memory() override;

  // ---- CUDA specifics (op hosts, tests, benchmarks) ----
  cudaStream_t stream() const { return stream_; }
  bool fp32() const { return fp32_; }
  int device_index() const { return device_; }
  DType act_dtype() const { return fp32_ ? DType::F32 : DType::BF16; }
  DeviceAllocator& allocator() { return *alloc_; }
  GemmRunner& gemm() { return *gemm_; }
  PathStats& path_stats() { return stats_; }
  GemmTypes gemm_types(DType weight) const;
  // Uniform values in [-scale, scale) computed on the device (random weights without host copies).
  void fill_random(Tensor& t, float scale, uint64_t seed);

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
  Tensor do_download(const Tensor& t) override;
  // Layer offload: page-locked host copies, uploads on a second stream ordered after the work queued so
  // far, and an event per upload that the compute stream waits on.
  Tensor do_pin_host(const Tensor& host) override;
  Tensor do_upload_async(const Tensor& host) override;
  void do_await_upload(const Tensor& t) override;

 public:
  int64_t slow_path_calls() const override { return stats_.slow_calls(); }
  std::string path_counts() const override { return stats_.str(); }

 private:
  void use_device() const;
  Tensor dequantized(const Tensor& w, DType to);  // block-quantized weight -> float scratch

  int device_;
  bool fp32_;
  cudaStream_t stream_ = nullptr;
  PathStats stats_;
  cudaStream_t copy_stream_ = nullptr;              // layer offload uploads; created on first use
  std::map<const void*, cudaEvent_t> upload_done_;  // by device pointer, until awaited
  void destroy_copy_stream();
  std::shared_ptr<DeviceAllocator> alloc_;
  std::unique_ptr<GemmRunner> gemm_;
};

}  // namespace ovis::cuda
