// Run-time CPU feature detection: one binary, AVX2+FMA / AVX-512 kernels only where the CPU has them.
#pragma once

namespace ovis::cpu {

// True when the AVX2+FMA code paths may run (CPU supports them and they are not switched off).
bool use_avx2();
// True when the AVX-512F f32 kernels (GEMM, conv) may run: the CPU has AVX-512F, use_avx2() holds, and neither
// OVIS_CPU_ISA=avx2 (or =portable) nor force_avx2 asks for the narrower path.
bool use_avx512();
// True when the AVX512-BF16 dot-product kernels may run (use_avx512() and the CPU has AVX512-BF16).
bool use_avx512_bf16();
// Forces the portable code paths (tests use it to check both paths give the same answers).
void force_portable(bool on);
// Forces the AVX2 code paths where AVX-512 ones exist (tests compare the two).
void force_avx2(bool on);

}  // namespace ovis::cpu
