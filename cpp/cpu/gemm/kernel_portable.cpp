// Portable 6x16 micro-kernel (plain loops the compiler vectorises for the baseline ISA).
#include "cpu/gemm/gemm.h"

namespace ovis::cpu {

void micro_kernel_portable(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate) {
  float acc[kMR][kNR] = {};
  for (int64_t k = 0; k < kc; ++k) {
    const float* ak = a + k * kMR;
    const float* bk = b + k * kNR;
    for (int r = 0; r < kMR; ++r) {
      const float av = ak[r];
      for (int j = 0; j < kNR; ++j) acc[r][j] += av * bk[j];
    }
  }
  for (int r = 0; r < kMR; ++r) {
    float* cr = c + r * ldc;
    if (accumulate)
      for (int j = 0; j < kNR; ++j) cr[j] += acc[r][j];
    else
      for (int j = 0; j < kNR; ++j) cr[j] = acc[r][j];
  }
}

}  // namespace ovis::cpu
