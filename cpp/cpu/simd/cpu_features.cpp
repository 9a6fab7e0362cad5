// Run-time CPU feature detection (GCC/Clang builtins on x86-64; portable everywhere else).
// OVIS_CPU_ISA=portable|avx2 caps the code paths for a whole process (debugging, comparisons);
// OVIS_CPU_PORTABLE=1 is the older spelling of =portable.
#include "cpu/simd/cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace ovis::cpu {

namespace {
std::atomic<bool> g_forced_portable{false};
std::atomic<bool> g_forced_avx2{false};

bool env_isa_is(const char* name) {
  const char* env = std::getenv("OVIS_CPU_ISA");
  return env && std::strcmp(env, name) == 0;
}

bool detect_avx2_fma() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return false;
  const char* env = std::getenv("OVIS_CPU_PORTABLE");  // escape hatch for debugging
  return !(env && env[0] == '1') && !env_isa_is("portable");
#else
  return false;
#endif
}

bool detect_avx512f() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && !env_isa_is("avx2");
#else
  return false;
#endif
}

bool detect_avx512_bf16() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw");
#else
  return false;
#endif
}
}  // namespace

bool use_avx2() {
  static const bool has = detect_avx2_fma();
  return has && !g_forced_portable.load(std::memory_order_relaxed);
}

bool use_avx512() {
  static const bool has = detect_avx512f();
  return has && use_avx2() && !g_forced_avx2.load(std::memory_order_relaxed);
}

bool use_avx512_bf16() {
  static const bool has = detect_avx512_bf16();
  return has && use_avx512();
}

void force_portable(bool on) { g_forced_portable.store(on, std::memory_order_relaxed); }

void force_avx2(bool on) { g_forced_avx2.store(on, std::memory_order_relaxed); }

}  // namespace ovis::cpu
