// Cache-blocked f32 GEMM: C[M, N] = A[M, K] · B[K, N], operands of any float dtype.
// Operands are "packing sources": the GEMM asks them for MR x kc (A) and kc x NR (B) panels and they
// convert to f32 on the fly (bf16 weights are never converted whole), or synthesize panels.
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace ovis::cpu {

class ThreadPool;

constexpr int kMR = 6;         // micro-tile rows (broadcast A values)
constexpr int kNR = 16;        // micro-tile columns (two 8-float vectors)
constexpr int64_t kKC = 384;   // depth of a packed block
constexpr int64_t kMC = 144;   // rows of A per packed block (L2)
constexpr int64_t kNC = 4080;  // columns of B per packed block (L3)

// Writes dst[k * kMR + r] = A(i0 + r, k0 + k) for r < mr, zero for mr <= r < kMR.
struct PackSourceA {
  virtual ~PackSourceA() = default;
  virtual void pack(int64_t i0, int mr, int64_t k0, int64_t kc, float* dst) const = 0;
  // Optional fast path of gemm_bf16 (gemm_bf16.h): bf16 pair panels of 2kMR rows written directly;
  // false when this source cannot (gemm_bf16 then packs f32 and rounds).
  virtual bool pack_bf16_pairs(int64_t i0, int mr, int64_t k0, int64_t kc, uint32_t* dst) const {
    (void)i0, (void)mr, (void)k0, (void)kc, (void)dst;
    return false;
  }
};
// Writes dst[k * kNR + j] = B(k0 + k, j0 + j) for j < nr, zero for nr <= j < kNR.
struct PackSourceB {
  virtual ~PackSourceB() = default;
  virtual void pack(int64_t k0, int64_t kc, int64_t j0, int nr, float* dst) const = 0;
  // Optional fast path of gemm_bf16: bf16 pair panels of 2kNR columns written directly, or false.
  virtual bool pack_bf16_pairs(int64_t k0, int64_t kc, int64_t j0, int nr, uint32_t* dst) const {
    (void)k0, (void)kc, (void)j0, (void)nr, (void)dst;
    return false;
  }
};

// A(i, k) = p[i * rs + k * cs] of dtype t (F32, F16, BF16).
class StridedA final : public PackSourceA {
 public:
  StridedA(const void* p, DType t, int64_t rs, int64_t cs) : p_(p), t_(t), rs_(rs), cs_(cs) {}
  void pack(int64_t i0, int mr, int64_t k0, int64_t kc, float* dst) const override;
  bool pack_bf16_pairs(int64_t i0, int mr, int64_t k0, int64_t kc, uint32_t* dst) const override;  // f32, cs = 1

 private:
  const void* p_;
  DType t_;
  int64_t rs_, cs_;
};

// B(k, j) = p[k * rs + j * cs] of dtype t. For y = x · W^T with W [N, K]: rs = 1, cs = K.
class StridedB final : public PackSourceB {
 public:
  StridedB(const void* p, DType t, int64_t rs, int64_t cs) : p_(p), t_(t), rs_(rs), cs_(cs) {}
  void pack(int64_t k0, int64_t kc, int64_t j0, int nr, float* dst) const override;
  bool pack_bf16_pairs(int64_t k0, int64_t kc, int64_t j0, int nr, uint32_t* dst) const override;  // bf16, rs = 1

 private:
  const void* p_;
  DType t_;
  int64_t rs_, cs_;
};

// c[MR x NR] (row stride ldc) = (accumulate ? c : 0) + a[kc][MR] · b[kc][NR].
using MicroKernel = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate);
MicroKernel micro_kernel();  // AVX2+FMA when available, else portable
void micro_kernel_portable(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate);
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
void micro_kernel_avx2(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate);
// 2kMR x 2kNR tile from two consecutive A panels (a, a + kc * kMR) and two B panels (b, b + kc * kNR).
void micro_kernel_avx512_wide(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate);
// The same 12x32 tile from A panels a0, a1 and B panels b0, b1 anywhere: the columns of b0 go to c0, those of
// b1 to c1 (rows at ldc in each, rows of a1 after those of a0). Each output is the same FMA chain as above.
void micro_kernel_avx512_2x2(int64_t kc, const float* a0, const float* a1, const float* b0, const float* b1, float* c0,
                             float* c1, int64_t ldc, bool accumulate);
#endif
// The wide kernel when the CPU has AVX-512F (cpu_features.h use_avx512), else null.
MicroKernel wide_micro_kernel();

// C = A · B (+ bias[n] on column n: added to each finished sum, the same values as adding it afterwards)
// (C overwritten, row stride ldc). pool may be null (serial). Results do not depend on the number of
// threads (the blocking and summation order are fixed).
void gemm(ThreadPool* pool, int64_t M, int64_t N, int64_t K, const PackSourceA& A, const PackSourceB& B, float* C,
          int64_t ldc, const float* bias = nullptr);

}  // namespace ovis::cpu
