// Which kernel path each GEMM and attention call took. The slow paths are the ones a full-size model
// must never take (a large GEMM on the naive fallback kernel, an attention call that could use the
// flash kernel but did not): each is logged once per process and counted, so tests can fail on them
// and benchmarks can report them.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>

namespace ovis::cuda {

struct PathStats {
  std::atomic<int64_t> gemm_lt{0}, gemm_fallback{0}, gemm_fallback_large{0};
  std::atomic<int64_t> attn_flash{0}, attn_generic{0}, attn_left_flash{0};

  int64_t slow_calls() const { return gemm_fallback_large + attn_left_flash; }
  std::string str() const;
};

// Logs `what` to stderr the first time a slow path is taken in this process (later ones are counted only).
void log_slow_path_once(const std::string& what);

}  // namespace ovis::cuda
