// The GEMM's run-time variants against each other on random inputs: the AVX-512 wide kernel against
// the AVX2 one (the same f32 arithmetic: equal within 1e-6, in fact bitwise), and the bf16 GEMM
// (AVX512-BF16) against the f32 one within bf16's error (1e-2), for float and block-quantized weights;
// the same for attention (its products run on these kernels).
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "core/backend.h"
#include "cpu/gemm/gemm_bf16.h"
#include "cpu/quant/quantize.h"
#include "cpu/simd/cpu_features.h"
#include "cpu/thread_pool.h"
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

// y = x · w^T through the gemm entry point fn (gemm or gemm_bf16).
template <class Fn>
Tensor run_gemm(Fn fn, const Tensor& x, const Tensor& w, cpu::ThreadPool& pool) {
  const int64_t M = x.shape[0], K = x.shape[1], N = w.shape[0];
  Tensor y = host_f32(Shape{M, N});
  cpu::StridedA A(x.data, x.dtype, K, 1);
  cpu::StridedB B(w.data, w.dtype, 1, K);
  fn(&pool, M, N, K, A, B, y.ptr<float>(), N, nullptr);
  return y;
}

}  // namespace

TEST(gemm_bias_in_epilogue_equals_adding_it_after) {
  // The bias added to each finished tile (last depth block) against adding it to the whole product
  // afterwards: the same additions, so the same bits; on 2 threads and on 1, wide and narrow kernels, and
  // for the bf16 GEMM where this CPU has AVX512-BF16.
  using Entry = void (*)(cpu::ThreadPool*, int64_t, int64_t, int64_t, const cpu::PackSourceA&, const cpu::PackSourceB&,
                         float*, int64_t, const float*);
  struct Variant {
    const char* name;
    Entry fn;
    bool narrow;
  };
  std::vector<Variant> variants{{"f32 wide", cpu::gemm, false}, {"f32 narrow", cpu::gemm, true}};
  if (cpu::gemm_bf16_available()) variants.push_back({"bf16", cpu::gemm_bf16, false});
  uint32_t seed = 90;
  cpu::ThreadPool two(2), one(1);
  for (const Variant& v : variants) {
    cpu::force_avx2(v.narrow);
    for (const GemmCase& c : kCases) {
      Tensor x = random_tensor(Shape{c.M, c.K}, DType::F32, seed++);
      Tensor w = random_weights(c.N, c.K, c.wt, seed++);
      Tensor bias = random_tensor(Shape{c.N}, DType::F32, seed++);
      const cpu::StridedA A(x.data, x.dtype, c.K, 1);
      const cpu::StridedB B(w.data, w.dtype, 1, c.K);
      Tensor after = host_f32(Shape{c.M, c.N});
      v.fn(&two, c.M, c.N, c.K, A, B, after.ptr<float>(), c.N, nullptr);
      for (int64_t i = 0; i < c.M; ++i)
        for (int64_t j = 0; j < c.N; ++j) after.ptr<float>()[i * c.N + j] += bias.ptr<float>()[j];
      for (cpu::ThreadPool* pool : {&two, &one}) {
        Tensor fused = host_f32(Shape{c.M, c.N});
        v.fn(pool, c.M, c.N, c.K, A, B, fused.ptr<float>(), c.N, bias.ptr<float>());
        CHECK_MSG(ovis_test::same_bytes(fused, after), c.M << "x" << c.K << "x" << c.N << " " << dtype_name(c.wt)
                                                           << " threads " << pool->size() << " " << v.name);
      }
    }
  }
  cpu::force_avx2(false);
}

TEST(gemm_isa_env_and_force_switch_avx512) {
  cpu::force_avx2(true);
  CHECK(!cpu::use_avx512() && !cpu::use_avx512_bf16() && !cpu::gemm_bf16_available());
  CHECK(cpu::wide_micro_kernel() == nullptr);
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
  CHECK(cpu::wide_micro_kernel() != nullptr);  // the comparison below really runs both kernels
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

TEST(gemm_bf16_matches_f32_within_bf16_error) {
  if (!cpu::gemm_bf16_available()) {
    std::printf("  (skipped: this CPU has no AVX512-BF16; gemm_bf16 runs the f32 GEMM)\n");
    return;
  }
  cpu::ThreadPool pool(2);
  uint32_t seed = 70;
  for (const GemmCase& c : kCases) {
    Tensor x = random_tensor(Shape{c.M, c.K}, DType::F32, seed++);
    Tensor w = random_weights(c.N, c.K, c.wt, seed++);
    Tensor y32 = run_gemm(cpu::gemm, x, w, pool);
    Tensor y16 = run_gemm(cpu::gemm_bf16, x, w, pool);
    const double e = rel_err(y16, to_f64(y32));
    const char* name = dtype_name(c.wt);
    CHECK_MSG(e <= 1e-2, "rel err " << e << " " << c.M << "x" << c.K << "x" << c.N << " " << name);
    // bf16 rounding of f32 activations must show: the test could fail if gemm_bf16 were the f32 path.
    CHECK_MSG(e > 1e-5, "bf16 GEMM equals f32 (" << e << "): not computing in bf16? " << name);
    // Threads never change the result.
    cpu::ThreadPool one(1);
    CHECK(ovis_test::same_bytes(y16, run_gemm(cpu::gemm_bf16, x, w, one)));
  }
}

TEST(gemm_bf16_exact_on_bf16_values_and_falls_back) {
  cpu::ThreadPool pool(2);
  // bf16-exact inputs with small integer values: every product and partial sum is exact in f32.
  Tensor x = host_f32(Shape{29, 389});
  for (int64_t i = 0; i < x.numel(); ++i) x.ptr<float>()[i] = float(int(i * 7 % 9) - 4);
  Tensor w = host_alloc(Shape{45, 389}, DType::BF16);
  for (int64_t i = 0; i < w.numel(); ++i) w.ptr<uint16_t>()[i] = f32_to_bf16(float(int(i * 5 % 7) - 3));
  Tensor y32 = run_gemm(cpu::gemm, x, w, pool);
  CHECK(ovis_test::same_bytes(run_gemm(cpu::gemm_bf16, x, w, pool), y32));
  // Without AVX512-BF16 (here: forced off) gemm_bf16 is the f32 GEMM, never a crash.
  Tensor r = random_tensor(Shape{30, 70}, DType::F32, 3);
  Tensor wr = random_tensor(Shape{50, 70}, DType::BF16, 4);
  cpu::force_avx2(true);
  Tensor fallback = run_gemm(cpu::gemm_bf16, r, wr, pool), f32 = run_gemm(cpu::gemm, r, wr, pool);
  cpu::force_avx2(false);
  CHECK(ovis_test::same_bytes(fallback, f32));
}

TEST(gemm_bf16_direct_packing_equals_rounding_f32_panels) {
  if (!cpu::gemm_bf16_available()) {
    std::printf("  (skipped: this CPU has no AVX512-BF16)\n");
    return;
  }
  cpu::ThreadPool pool(2);
  for (int64_t K : {1, 31, 390, 777}) {
    const int64_t M = 27, N = 45;
    Tensor x = random_tensor(Shape{M, K}, DType::F32, uint32_t(K));
    Tensor w = random_tensor(Shape{N, K}, DType::BF16, uint32_t(K + 1));
    // The same operands through the generic path: x stored transposed (cs != 1), w as f32 values.
    Tensor xt = host_f32(Shape{K, M});
    for (int64_t i = 0; i < M; ++i)
      for (int64_t k = 0; k < K; ++k) xt.ptr<float>()[k * M + i] = x.ptr<float>()[i * K + k];
    Tensor wf = host_f32(Shape{N, K});
    for (int64_t i = 0; i < N * K; ++i) wf.ptr<float>()[i] = bf16_to_f32(w.ptr<uint16_t>()[i]);
    Tensor direct = host_f32(Shape{M, N}), generic = host_f32(Shape{M, N});
    cpu::gemm_bf16(&pool, M, N, K, cpu::StridedA(x.data, DType::F32, K, 1), cpu::StridedB(w.data, DType::BF16, 1, K),
                   direct.ptr<float>(), N);
    cpu::gemm_bf16(&pool, M, N, K, cpu::StridedA(xt.data, DType::F32, 1, M), cpu::StridedB(wf.data, DType::F32, 1, K),
                   generic.ptr<float>(), N);
    CHECK_MSG(ovis_test::same_bytes(direct, generic), "K=" << K);
  }
}

// precision 'bf16' attention (Q K^T and P V in bf16) against the f32 attention, through the backends.
namespace {
struct AttentionCase {
  int64_t B, Sq, Sk, Hq, Hkv, hd;
  bool causal, mask;
};
// Partial query blocks and key tiles, odd panel counts, grouped KV heads, masks.
const AttentionCase kAttentionCases[] = {
    {1, 1, 1, 1, 1, 8, false, false},    {2, 7, 33, 4, 2, 20, false, true},    {1, 200, 200, 2, 1, 64, true, false},
    {2, 130, 130, 4, 2, 32, true, true}, {1, 97, 300, 3, 3, 128, false, true}, {1, 33, 33, 6, 2, 5, true, false},
};

// Runs fn(q, k, v, scale, causal, mask or null, description) on each case's random inputs.
template <class Fn>
void for_each_attention_case(uint32_t seed, Fn&& fn) {
  for (const AttentionCase& c : kAttentionCases) {
    Tensor q = random_tensor(Shape{c.B, c.Sq, c.Hq, c.hd}, DType::F32, seed++, -2.f, 2.f);
    Tensor k = random_tensor(Shape{c.B, c.Sk, c.Hkv, c.hd}, DType::F32, seed++, -2.f, 2.f);
    Tensor v = random_tensor(Shape{c.B, c.Sk, c.Hkv, c.hd}, DType::F32, seed++);
    Tensor mask = host_f32(Shape{c.B, c.Sk});
    for (int64_t i = 0; i < mask.numel(); ++i) mask.ptr<float>()[i] = (i * 7 + 3) % 5 == 0 ? 0.f : 1.f;
    const std::string what =
        "Sq=" + std::to_string(c.Sq) + " Sk=" + std::to_string(c.Sk) + " hd=" + std::to_string(c.hd);
    fn(q, k, v, 1.f / std::sqrt(float(c.hd)), c.causal, c.mask ? &mask : nullptr, what);
  }
}
}  // namespace

TEST(attention_avx512_wide_kernel_matches_avx2) {
  if (!cpu::use_avx512()) {
    std::printf("  (skipped: this CPU has no AVX-512F or OVIS_CPU_ISA caps it)\n");
    return;
  }
  for_each_attention_case(70, [](const Tensor& q, const Tensor& k, const Tensor& v, float scale, bool causal,
                                 const Tensor* m, const std::string& what) {
    Tensor wide = cpu2().attention(q, k, v, scale, causal, m);
    cpu::force_avx2(true);
    Tensor narrow = cpu2().attention(q, k, v, scale, causal, m);
    cpu::force_avx2(false);
    CHECK_REL(wide, to_f64(narrow), 1e-6, what);
    CHECK_MSG(ovis_test::same_bytes(wide, narrow), "same f32 arithmetic: bitwise " << what);
  });
}

TEST(attention_bf16_matches_f32_within_bf16_error) {
  if (!cpu::gemm_bf16_available()) {
    std::printf("  (skipped: this CPU has no AVX512-BF16)\n");
    return;
  }
  static std::unique_ptr<Backend> bf16 = create_cpu_backend(2, true);
  for_each_attention_case(90, [](const Tensor& q, const Tensor& k, const Tensor& v, float scale, bool causal,
                                 const Tensor* m, const std::string& what) {
    Tensor y32 = cpu2().attention(q, k, v, scale, causal, m);
    Tensor y16 = bf16->attention(q, k, v, scale, causal, m);
    const double e = rel_err(y16, to_f64(y32));
    CHECK_MSG(e <= 1e-2 && e > 1e-5, "rel err " << e << " " << what);
  });
}
