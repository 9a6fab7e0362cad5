// CUDA error -> ovis::Error.
#include "cuda_check.h"

#include <string>

#include "core/error.h"

namespace ovis::cuda {

void throw_cuda_error(cudaError_t err, const char* what, const char* file, int line) {
  // cudaGetLastError resets the non-sticky error state so the backend stays usable after an OOM.
  (void)cudaGetLastError();
  std::string where = std::string(" (") + what + " at " + file + ":" + std::to_string(line) + ")";
  if (err == cudaErrorMemoryAllocation)
    throw Error("OVIS_OUT_OF_MEMORY", std::string("CUDA device out of memory") + where);
  throw Error("OVIS_BACKEND",
              std::string("CUDA error ") + cudaGetErrorName(err) + ": " + cudaGetErrorString(err) + where);
}

}  // namespace ovis::cuda
