// Run-time CPU feature detection: one binary, AVX2+FMA kernels only where the CPU has them.
#pragma once

namespace ovis::cpu {

// True when the AVX2+FMA code paths may run (CPU supports them and they are not switched off).
bool use_avx2();
// True when the AVX-512 (F) conv kernels may run: the CPU has AVX-512F and AVX2 is on, and neither
// OVIS_CPU_ISA=avx2 (environment) nor force_avx2(true) holds them back.
bool use_avx512();
// Keeps the AVX-512 kernels off (tests compare them with the AVX2 ones, which must give the same bits).
void force_avx2(bool on);
// Forces the portable code paths (tests use it to check both paths give the same answers).
void force_portable(bool on);

}  // namespace ovis::cpu
