// Run-time CPU feature detection (GCC/Clang builtins on x86-64; portable everywhere else).
#include "cpu/simd/cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <string>

namespace ovis::cpu {

namespace {
std::atomic<bool> g_forced_portable{false};
std::atomic<bool> g_forced_avx2{false};

bool detect_avx2_fma() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return false;
  const char* env = std::getenv("OVIS_CPU_PORTABLE");  // escape hatch for debugging
  return !(env && env[0] == '1');
#else
  return false;
#endif
}
bool detect_avx512f() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512f")) return false;
  const char* env = std::getenv("OVIS_CPU_ISA");  // "avx2": the AVX2 kernels only
  return !(env && std::string(env) == "avx2");
#else
  return false;
#endif
}
}  // namespace

bool use_avx512() {
  static const bool has = detect_avx512f();
  return has && use_avx2() && !g_forced_avx2.load(std::memory_order_relaxed);
}

void force_avx2(bool on) { g_forced_avx2.store(on, std::memory_order_relaxed); }

bool use_avx2() {
  static const bool has = detect_avx2_fma();
  return has && !g_forced_portable.load(std::memory_order_relaxed);
}

void force_portable(bool on) { g_forced_portable.store(on, std::memory_order_relaxed); }

}  // namespace ovis::cpu
