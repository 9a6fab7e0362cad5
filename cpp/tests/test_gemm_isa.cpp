// The GEMM's run-time variants against each other on random inputs: the AVX-512 wide kernel against
// the AVX2 one (the same f32 arithmetic: equal within 1e-6, in fact bitwise), for float and
// block-quantized weights.
#include <cstdio>
#include <memory>

#include "core/backend.h"
#include "cpu/quant/quantize.h"
#include "cpu/simd/cpu_features.h"
#include "tests/testing.h"

using namespace ovis;
using ovis_test::random_tensor;
using ovis_test::rel_err;
using ovis_test::to_f64;

namespace {

Backend& cpu2() {
  static std::unique_ptr<Backend> b = create_cpu_backend(2);
  return *b;
}

// Weights [N, K] of dtype t with random values (quantized types: random f32 values quantized).
Tensor random_weights(int64_t N, int64_t K, DType t, uint32_t seed) {
  if (!dtype_is_quantized(t)) return random_tensor(Shape{N, K}, t, seed);
  Tensor f = random_tensor(Shape{N, K}, DType::F32, seed);
  Tensor q = host_alloc(Shape{N, K}, t);
  cpu::quantize_values(t, f.ptr<float>(), q.data, f.numel());
  return q;
}

struct GemmCase {
  int64_t M, K, N;
  DType wt;
};
// Odd sizes (partial 12x32 tiles, odd panel counts, K across the 384 depth blocks) and every weight kind.
const GemmCase kCases[] = {
    {1, 5, 3, DType::F32},       {7, 131, 17, DType::BF16},      {13, 64, 33, DType::F16},
    {33, 401, 200, DType::BF16}, {150, 777, 97, DType::F32},     {25, 512, 70, DType::Q8_0},
    {19, 768, 45, DType::Q4_K},  {160, 1023, 4133, DType::BF16}, {12, 256, 32, DType::Q6_K},
};

}  // namespace

TEST(gemm_isa_env_and_force_switch_avx512) {
  cpu::force_avx2(true);
  CHECK(!cpu::use_avx512() && !cpu::use_avx512_bf16());
  cpu::force_avx2(false);
  cpu::force_portable(true);
  CHECK(!cpu::use_avx512() && !cpu::use_avx2());
  cpu::force_portable(false);
}

TEST(gemm_avx512_wide_kernel_matches_avx2) {
  if (!cpu::use_avx512()) {
    std::printf("  (skipped: this CPU has no AVX-512F or OVIS_CPU_ISA caps it)\n");
    return;
  }
  uint32_t seed = 40;
  for (const GemmCase& c : kCases) {
    Tensor x = random_tensor(Shape{c.M, c.K}, DType::F32, seed++);
    Tensor w = random_weights(c.N, c.K, c.wt, seed++);
    Tensor wide = cpu2().linear(x, w, nullptr);
    cpu::force_avx2(true);
    Tensor narrow = cpu2().linear(x, w, nullptr);
    cpu::force_avx2(false);
    CHECK_REL(wide, to_f64(narrow), 1e-6, c.M << "x" << c.K << "x" << c.N << " " << dtype_name(c.wt));
    CHECK_MSG(ovis_test::same_bytes(wide, narrow), "same f32 arithmetic: bitwise " << c.M << "x" << c.K << "x" << c.N);
  }
}
