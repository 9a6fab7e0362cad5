// PathStats printing and the once-per-process slow-path log.
#include "path_stats.h"

#include <cstdio>
#include <mutex>

namespace ovis::cuda {

std::string PathStats::str() const {
  return "gemm: cublaslt " + std::to_string(gemm_lt) + ", fallback " + std::to_string(gemm_fallback) + " (large " +
         std::to_string(gemm_fallback_large) + "); attention: flash " + std::to_string(attn_flash) + ", generic " +
         std::to_string(attn_generic) + " (left the flash path " + std::to_string(attn_left_flash) + ")";
}

void log_slow_path_once(const std::string& what) {
  static std::once_flag once;
  std::call_once(once, [&] {
    std::fprintf(stderr, "ovis cuda: SLOW PATH: %s (logged once; later cases are only counted)\n", what.c_str());
  });
}

}  // namespace ovis::cuda
