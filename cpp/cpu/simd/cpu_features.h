// Run-time CPU feature detection: one binary, AVX2+FMA kernels only where the CPU has them.
#pragma once

namespace ovis::cpu {

// True when the AVX2+FMA code paths may run (CPU supports them and they are not switched off).
bool use_avx2();
// Forces the portable code paths (tests use it to check both paths give the same answers).
void force_portable(bool on);

}  // namespace ovis::cpu
