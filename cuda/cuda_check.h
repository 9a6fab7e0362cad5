// Status checks for CUDA runtime calls: failures become ovis::Error (OVIS_BACKEND, or OVIS_OUT_OF_MEMORY).
#pragma once
#include <cuda_runtime.h>

namespace ovis::cuda {

// Throws Error: OVIS_OUT_OF_MEMORY for cudaErrorMemoryAllocation (after clearing the error state),
// OVIS_BACKEND otherwise, naming the call, the CUDA error and the source location.
[[noreturn]] void throw_cuda_error(cudaError_t err, const char* what, const char* file, int line);

}  // namespace ovis::cuda

#define CUDA_CHECK(call)                                                                                \
  do {                                                                                                  \
    cudaError_t ovis_err_ = (call);                                                                     \
    if (ovis_err_ != cudaSuccess) ::ovis::cuda::throw_cuda_error(ovis_err_, #call, __FILE__, __LINE__); \
  } while (0)

// After a kernel launch: reports bad launch configurations (asynchronous faults surface at the next sync).
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())
