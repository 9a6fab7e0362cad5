// CudaBackend: ovis::Backend on one CUDA device (cuBLASLt GEMMs, flash attention, fused kernels).
// Everything runs on one stream owned by the backend; memory comes from a caching allocator.
// Precision: fp32 mode keeps f32 activations and GEMMs (no TF32); bf16 mode returns bf16 activations
// from GEMMs/norms/elementwise ops with f32 math inside every kernel (DESIGN.md decision 5).
#pragma once
#include <cuda_runtime.h>

#include <memory>
#include <string>

#include "core/backend.h"
#include "device_allocator.h"
#include "gemm_lt.h"

namespace ovis::cuda {

class CudaBackend final : public Backend {
 public:
  // Use create_cuda_backend(), which checks the device and loads cuBLASLt first.
  CudaBackend(int device, bool fp32, const CublasLtApi& lt);
  ~CudaBackend() override;

  std::string name() const override;
  DeviceKind device() const override { return DeviceKind::Cuda; }

  Tensor alloc(const Shape& s, DType t) override;
  Tensor upload(const Tensor& host) override;
  Tensor to_host_f32(const Tensor& t) override;
  Tensor cast(const Tensor& t, DType to) override;
  void sync() override;
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

  // ---- CUDA specifics (tests, benchmarks) ----
  cudaStream_t stream() const { return stream_; }
  bool fp32() const { return fp32_; }
  int device_index() const { return device_; }
  DType act_dtype() const { return fp32_ ? DType::F32 : DType::BF16; }
  DeviceAllocator& allocator() { return *alloc_; }
  // Uniform values in [-scale, scale) computed on the device (random weights without host copies).
  void fill_random(Tensor& t, float scale, uint64_t seed);

 private:
  void use_device() const;
  void rope(Tensor& x, const Tensor& cos, const Tensor& sin, bool interleaved, const char* op);
  // t itself when it already has dtype `to`, else a converted temporary.
  Tensor as_dtype(const Tensor& t, DType to);
  Tensor dequantized(const Tensor& w, DType to);  // block-quantized weight -> float scratch
  // GEMM operand dtype and output dtype for a weight of dtype wt.
  void gemm_types(DType wt, DType* operand, DType* out) const;

  int device_;
  bool fp32_;
  cudaStream_t stream_ = nullptr;
  std::shared_ptr<DeviceAllocator> alloc_;
  std::unique_ptr<GemmRunner> gemm_;
};

}  // namespace ovis::cuda
