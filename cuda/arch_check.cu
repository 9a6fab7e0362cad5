// Refuses a GPU this binary has no kernels for, at backend creation, instead of at the first launch.
#include <string>

#include "cuda_common.cuh"
#include "launchers.h"

#ifndef OVIS_CUDA_ARCH_LIST
#define OVIS_CUDA_ARCH_LIST "unknown"
#endif

namespace ovis::cuda {
namespace {
__global__ void arch_probe_kernel() {}
}  // namespace

void require_kernel_image_for(const cudaDeviceProp& prop, int device_index) {
  cudaFuncAttributes attr{};
  const cudaError_t err = cudaFuncGetAttributes(&attr, arch_probe_kernel);
  if (err == cudaSuccess) return;
  (void)cudaGetLastError();
  const std::string arch = "sm_" + std::to_string(prop.major) + std::to_string(prop.minor);
  fail("OVIS_UNAVAILABLE", "CUDA device " + std::to_string(device_index) + " (" + prop.name + ") is " + arch +
                               ", which this binary was not built for (CUDA archs: " OVIS_CUDA_ARCH_LIST
                               "; rebuild with -DOVIS_CUDA_ARCHS=" +
                               std::to_string(prop.major) + std::to_string(prop.minor) +
                               "): " + cudaGetErrorString(err));
}

}  // namespace ovis::cuda
