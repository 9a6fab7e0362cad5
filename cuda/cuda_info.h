// What the CUDA side of this build sees on this machine, for the probe child (lib/native/cuda-probe.ts),
// `ovis-image doctor` and the refusals at backend creation: driver, GPUs, the archs compiled in.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace ovis::cuda {

struct GpuInfo {
  std::string name;
  int major = 0;  // compute capability
  int minor = 0;
  size_t total_memory = 0;  // bytes
};

struct CudaInfo {
  int driver_version = 0;   // CUDA version the installed driver supports (13000 = 13.0); 0 without a driver
  int runtime_version = 0;  // the CUDA runtime linked into this build (CUDART_VERSION)
  std::string archs;        // OVIS_CUDA_ARCHS of this build, e.g. "80-real;86-real;...;120"
  std::string error;        // cudaGetDeviceCount's error name when it failed ("" when it worked)
  std::vector<GpuInfo> devices;
};

// Never throws: failures are reported in `error` (no driver, driver too old, no device).
CudaInfo cuda_info();

}  // namespace ovis::cuda
