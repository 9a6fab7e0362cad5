// See cuda_info.h. Only runtime queries that need no context on a device, so the probe stays cheap.
#include "cuda_info.h"

#include <cuda_runtime.h>

#ifndef OVIS_CUDA_ARCHS_BUILT
#define OVIS_CUDA_ARCHS_BUILT ""  // set by cmake/cuda.cmake from OVIS_CUDA_ARCHS
#endif

namespace ovis::cuda {

CudaInfo cuda_info() {
  CudaInfo info;
  info.runtime_version = CUDART_VERSION;
  info.archs = OVIS_CUDA_ARCHS_BUILT;
  if (cudaDriverGetVersion(&info.driver_version) != cudaSuccess) info.driver_version = 0;
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    info.error = cudaGetErrorName(err);
    return info;
  }
  for (int i = 0; i < n; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) {
      (void)cudaGetLastError();
      info.devices.push_back(GpuInfo{"(properties unreadable)", 0, 0, 0});
      continue;
    }
    info.devices.push_back(GpuInfo{prop.name, prop.major, prop.minor, prop.totalGlobalMem});
  }
  return info;
}

}  // namespace ovis::cuda
