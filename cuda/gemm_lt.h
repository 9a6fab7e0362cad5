// Column-major GEMM D = op(A) · op(B) (+ bias per row of D) through cuBLASLt, with cached plans and a
// plain CUDA fallback when cuBLASLt has no algorithm for a shape/alignment.
// Row-major callers map their products onto this form (see linear and conv2d in cuda_backend.cpp).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <memory>
#include <tuple>

#include "core/tensor.h"
#include "cublaslt_loader.h"
#include "device_allocator.h"
#include "path_stats.h"

namespace ovis::cuda {

struct GemmArgs {
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  const void* a = nullptr;  // op(A) is m x k; stored k x m (lda >= k) when trans_a, else m x k (lda >= m)
  int64_t lda = 0;
  const void* b = nullptr;  // op(B) is k x n; stored n x k when trans_b, else k x n
  int64_t ldb = 0;
  DType ab_type = DType::F32;  // A and B share one dtype
  void* d = nullptr;           // m x n, ldd >= m
  int64_t ldd = 0;
  DType d_type = DType::F32;
  const void* bias = nullptr;  // [m] of d_type, or null
};

class GemmRunner {
 public:
  // Counts each call's path in `stats` (owned by the backend, outlives the runner).
  GemmRunner(const CublasLtApi& api, cudaStream_t stream, std::shared_ptr<DeviceAllocator> alloc, PathStats& stats);
  ~GemmRunner();
  GemmRunner(const GemmRunner&) = delete;
  GemmRunner& operator=(const GemmRunner&) = delete;
  // Supported: A/B f32 -> D f32 (CUBLAS_COMPUTE_32F, no TF32); A/B bf16 or f16 -> D same or f32
  // (f32 accumulation). Throws OVIS_BACKEND on cuBLASLt failure.
  void run(const GemmArgs& g);

 private:
  struct Plan;
  using Key = std::tuple<int, int, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int, int, int, uint32_t>;
  Plan& plan_for(const GemmArgs& g);
  void run_fallback(const GemmArgs& g, const char* why);

  const CublasLtApi& api_;
  cudaStream_t stream_;
  std::shared_ptr<DeviceAllocator> alloc_;
  PathStats& stats_;
  cublasLtHandle_t handle_ = nullptr;
  std::shared_ptr<void> workspace_;
  size_t workspace_bytes_ = 0;
  std::map<Key, std::unique_ptr<Plan>> plans_;
};

// Plain tiled GEMM with f32 accumulation (any dtypes); used when cuBLASLt declines a problem.
void launch_gemm_fallback(const GemmArgs& g, cudaStream_t s);

}  // namespace ovis::cuda
