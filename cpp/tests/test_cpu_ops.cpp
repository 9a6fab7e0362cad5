// CPU backend op tests: each op against a plain double-precision reference loop on random inputs.
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "core/backend.h"
#include "cpu/gemm/conv_winograd.h"
#include "cpu/host_block_cache.h"
#include "cpu/quant/quantize.h"
#include "cpu/simd/cpu_features.h"
#include "tests/testing.h"

using namespace ovis;
using ovis_test::random_tensor;
using ovis_test::rel_err;
using ovis_test::to_f64;

namespace {
constexpr double kTol = 1e-5;
const DType kWeightTypes[] = {DType::F32, DType::BF16, DType::F16};

Backend& cpu2() {
  static std::unique_ptr<Backend> b = create_cpu_backend(2);
  return *b;
}
Backend& cpu1() {
  static std::unique_ptr<Backend> b = create_cpu_backend(1);
  return *b;
}
std::string dn(DType t) { return dtype_name(t); }

std::vector<double> ref_linear(const Tensor& x, const Tensor& w, const Tensor* bias) {
  const auto xv = to_f64(x), wv = to_f64(w);
  const int64_t K = w.shape[1], N = w.shape[0], M = x.numel() / K;
  std::vector<double> bv = bias ? to_f64(*bias) : std::vector<double>(size_t(N), 0.0);
  std::vector<double> y(size_t(M * N));
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double s = bv[size_t(j)];
      for (int64_t k = 0; k < K; ++k) s += xv[size_t(i * K + k)] * wv[size_t(j * K + k)];
      y[size_t(i * N + j)] = s;
    }
  return y;
}

bool any_nan(const Tensor& t) {
  for (double v : to_f64(t))
    if (std::isnan(v)) return true;
  return false;
}
}  // namespace

// ---- tensor basics ------------------------------------------------------------------------------
TEST(tensor_conversions) {
  CHECK(f32_to_bf16(1.0f) == 0x3f80);
  CHECK(bf16_to_f32(0x3f80) == 1.0f);
  CHECK(f32_to_f16(1.0f) == 0x3c00);
  CHECK(f16_to_f32(0x3c00) == 1.0f);
  CHECK(f32_to_f16(65504.f) == 0x7bff);
  CHECK(f32_to_f16(1e6f) == 0x7c00);
  CHECK(f16_to_f32(0x0001) == std::ldexp(1.0f, -24));  // smallest subnormal
  CHECK(f32_to_f16(std::ldexp(1.0f, -24)) == 0x0001);
  CHECK(f32_to_f16(-2.0f) == 0xc000);
  CHECK(std::isnan(f16_to_f32(f32_to_f16(NAN))));
  CHECK(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
  // Round to nearest even: 1 + 2^-8 is halfway between two bf16 values and rounds down to 1.
  CHECK(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)) == 0x3f80);
  CHECK(f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)) == 0x3f82);
  // Every f16 value round-trips through f32.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue;  // NaN payloads
    CHECK_MSG(f32_to_f16(f16_to_f32(uint16_t(h))) == h, "h=" << h);
  }
  CHECK(dtype_from_name("BF16") == DType::BF16 && dtype_from_name("f32") == DType::F32);
  CHECK_THROWS_CODE(dtype_from_name("f64"), "OVIS_BAD_WEIGHTS");
  CHECK(dtype_size(DType::F16) == 2 && std::string(dtype_name(DType::I32)) == "i32");
  Tensor t = host_f32(Shape{2, 3, 4});
  CHECK(t.numel() == 24 && t.nbytes() == 96 && t.shape.str() == "[2, 3, 4]");
  Tensor v = t.view(Shape{6, 4});
  CHECK(v.data == t.data && v.shape[-1] == 4);
  CHECK_THROWS_CODE(t.view(Shape{5, 5}), "OVIS_BAD_ARGUMENT");
  float buf[4] = {1, 2, 3, 4};
  Tensor hv = host_view(buf, Shape{4}, DType::F32);
  CHECK(hv.defined() && hv.ptr<float>()[3] == 4.f && !hv.storage);
  Tensor bf = random_tensor(Shape{37}, DType::BF16, 1);
  std::vector<float> conv(37);
  convert_to_f32(bf.data, DType::BF16, conv.data(), 37);
  for (int i = 0; i < 37; ++i) CHECK(conv[size_t(i)] == bf16_to_f32(bf.ptr<uint16_t>()[i]));
}

TEST(create_backend_dispatch) {
  BackendOptions o;
  o.device = "cpu";
  o.threads = 1;
  auto b = create_backend(o);
  CHECK(b->name() == "cpu" && b->device() == DeviceKind::Host);
#ifndef OVIS_WITH_CUDA
  o.device = "cuda:0";
  CHECK_THROWS_CODE(create_backend(o), "OVIS_UNAVAILABLE");
  o.device = "cuda";
  CHECK_THROWS_CODE(create_backend(o), "OVIS_UNAVAILABLE");
#endif
  o.device = "tpu";
  CHECK_THROWS_CODE(create_backend(o), "OVIS_BAD_ARGUMENT");
  CHECK_THROWS_CODE(create_cpu_backend(-1), "OVIS_BAD_ARGUMENT");
}

// ---- dense ----------------------------------------------------------------------------------------
TEST(linear_shapes_and_dtypes) {
  uint32_t seed = 10;
  for (int64_t M : {1, 7, 33})
    for (int64_t K : {5, 64, 131})
      for (int64_t N : {3, 17, 200})
        for (DType wt : kWeightTypes) {
          Tensor x = random_tensor(Shape{M, K}, DType::F32, seed++);
          Tensor w = random_tensor(Shape{N, K}, wt, seed++);
          Tensor b = random_tensor(Shape{N}, wt, seed++);
          const bool with_bias = (M + K + N) % 2 == 1;
          Tensor y = cpu2().linear(x, w, with_bias ? &b : nullptr);
          CHECK(y.shape == (Shape{M, N}) && y.dtype == DType::F32);
          CHECK_REL(y, ref_linear(x, w, with_bias ? &b : nullptr), kTol,
                    "M=" << M << " K=" << K << " N=" << N << " " << dn(wt));
        }
}

TEST(linear_large_blocks_rank3) {
  // Crosses the KC, MC and NC block edges; x has leading dims [2, 75].
  for (DType wt : kWeightTypes) {
    Tensor x = random_tensor(Shape{2, 75, 401}, DType::F32, 1);
    Tensor w = random_tensor(Shape{4097, 401}, wt, 2);
    Tensor b = random_tensor(Shape{4097}, DType::F32, 3);
    Tensor y = cpu2().linear(x, w, &b);
    CHECK(y.shape == (Shape{2, 75, 4097}));
    CHECK_REL(y, ref_linear(x, w, &b), kTol, dn(wt));
  }
}

TEST(linear_portable_path_matches) {
  Tensor x = random_tensor(Shape{33, 131}, DType::F32, 4);
  Tensor w = random_tensor(Shape{200, 131}, DType::BF16, 5);
  cpu::force_portable(true);
  Tensor y = cpu2().linear(x, w, nullptr);
  cpu::force_portable(false);
  CHECK_REL(y, ref_linear(x, w, nullptr), kTol, "portable kernel");
}

// A weight kept as stored in row blocks (q, k, v of a fused qkv) gives the products of the assembled
// weight, bit for bit, for plain and block-quantized dtypes; other ops and reshapes refuse it.
TEST(linear_row_parts_equal_assembled_weight) {
  const int64_t K = 64, M = 9;
  const int64_t rows[] = {3, 40, 21};
  const int64_t N = 64;
  for (DType wt : {DType::F32, DType::BF16, DType::F16, DType::Q8_0}) {
    Tensor w = host_alloc(Shape{N, K}, wt);
    if (wt == DType::Q8_0) {
      Tensor vals = random_tensor(Shape{N, K}, DType::F32, 21);
      cpu::quantize_values(wt, vals.ptr<float>(), w.data, vals.numel());
    } else {
      w = random_tensor(Shape{N, K}, wt, 21);
    }
    std::vector<Tensor> parts;
    int64_t r0 = 0;
    for (int64_t r : rows) {
      Tensor p = host_view(static_cast<uint8_t*>(w.data) + dtype_bytes(wt, r0 * K), Shape{r, K}, wt);
      p.storage = w.storage;
      parts.push_back(p);
      r0 += r;
    }
    const Tensor w_parts = host_row_parts(parts, Shape{N, K}, wt);
    CHECK(w_parts.defined() && w_parts.data == nullptr && w_parts.nbytes() == w.nbytes());
    Tensor x = random_tensor(Shape{M, K}, DType::F32, 22);
    Tensor b = random_tensor(Shape{N}, DType::F32, 23);
    CHECK_MSG(ovis_test::same_bytes(cpu2().linear(x, w_parts, &b), cpu2().linear(x, w, &b)), dn(wt));
    CHECK_THROWS_CODE(cpu2().silu(w_parts), "OVIS_BAD_ARGUMENT");
    CHECK_THROWS_CODE(w_parts.view(Shape{N * K}), "OVIS_INTERNAL");
  }
  // Parts that do not stack to the shape are refused.
  Tensor a = random_tensor(Shape{2, 8}, DType::F32, 24), c = random_tensor(Shape{3, 7}, DType::F32, 25);
  CHECK_THROWS_CODE(host_row_parts({a, a}, Shape{5, 8}, DType::F32), "OVIS_INTERNAL");
  CHECK_THROWS_CODE(host_row_parts({a, c}, Shape{5, 8}, DType::F32), "OVIS_INTERNAL");
  CHECK_THROWS_CODE(host_row_parts({a}, Shape{2, 8}, DType::BF16), "OVIS_INTERNAL");
}

TEST(linear_threads_identical) {
  Tensor x = random_tensor(Shape{300, 257}, DType::F32, 6);
  Tensor w = random_tensor(Shape{517, 257}, DType::BF16, 7);
  CHECK(ovis_test::same_bytes(cpu1().linear(x, w, nullptr), cpu2().linear(x, w, nullptr)));
}

TEST(linear_errors_and_nan) {
  Tensor x = random_tensor(Shape{4, 8}, DType::F32, 1);
  Tensor w = random_tensor(Shape{5, 9}, DType::F32, 2);
  CHECK_THROWS_CODE(cpu2().linear(x, w, nullptr), "OVIS_BAD_ARGUMENT");
  Tensor w2 = random_tensor(Shape{5, 8}, DType::F32, 3);
  Tensor bad_bias = random_tensor(Shape{4}, DType::F32, 4);
  CHECK_THROWS_CODE(cpu2().linear(x, w2, &bad_bias), "OVIS_BAD_ARGUMENT");
  Tensor ids = host_alloc(Shape{5, 8}, DType::I32);
  CHECK_THROWS_CODE(cpu2().linear(x, ids, nullptr), "OVIS_BAD_ARGUMENT");
  x.ptr<float>()[9] = NAN;  // row 1
  Tensor y = cpu2().linear(x, w2, nullptr);
  for (int j = 0; j < 5; ++j) CHECK(std::isnan(y.ptr<float>()[5 + j]) && !std::isnan(y.ptr<float>()[j]));
  x.ptr<float>()[9] = INFINITY;
  y = cpu2().linear(x, w2, nullptr);
  CHECK(!std::isfinite(y.ptr<float>()[5]));
}

TEST(embedding_dtypes_and_errors) {
  for (DType wt : kWeightTypes) {
    Tensor table = random_tensor(Shape{50, 13}, wt, 8);
    Tensor ids = host_alloc(Shape{2, 3}, DType::I32);
    const int32_t idv[6] = {0, 49, 7, 7, 3, 21};
    for (int i = 0; i < 6; ++i) ids.ptr<int32_t>()[i] = idv[i];
    Tensor out = cpu2().embedding(table, ids);
    CHECK(out.shape == (Shape{2, 3, 13}));
    const auto tv = to_f64(table);
    std::vector<double> ref;
    for (int i = 0; i < 6; ++i)
      for (int h = 0; h < 13; ++h) ref.push_back(tv[size_t(idv[i] * 13 + h)]);
    CHECK_REL(out, ref, 0.0, dn(wt));
    ids.ptr<int32_t>()[2] = 50;
    CHECK_THROWS_CODE(cpu2().embedding(table, ids), "OVIS_BAD_ARGUMENT");
    ids.ptr<int32_t>()[2] = -1;
    CHECK_THROWS_CODE(cpu2().embedding(table, ids), "OVIS_BAD_ARGUMENT");
  }
  Tensor table = random_tensor(Shape{5, 4}, DType::F32, 1);
  Tensor fids = random_tensor(Shape{3}, DType::F32, 2);
  CHECK_THROWS_CODE(cpu2().embedding(table, fids), "OVIS_BAD_ARGUMENT");
}

// ---- elementwise ----------------------------------------------------------------------------------
TEST(silu_swiglu) {
  for (int64_t n : {1, 7, 33, 1000}) {
    Tensor x = random_tensor(Shape{3, n}, DType::F32, uint32_t(n), -8.f, 8.f);
    x.ptr<float>()[0] = -100.f;  // exp overflow region
    const auto xv = to_f64(x);
    std::vector<double> ref;
    for (double v : xv) ref.push_back(v / (1.0 + std::exp(-v)));
    CHECK_REL(cpu2().silu(x), ref, kTol, "silu n=" << n);
    Tensor g = random_tensor(Shape{2, 5, 2 * n}, DType::F32, uint32_t(n + 1), -6.f, 6.f);
    const auto gv = to_f64(g);
    std::vector<double> sref;
    for (int64_t r = 0; r < 10; ++r)
      for (int64_t i = 0; i < n; ++i) {
        const double up = gv[size_t(r * 2 * n + i)], gate = gv[size_t(r * 2 * n + n + i)];
        sref.push_back(up * gate / (1.0 + std::exp(-gate)));
      }
    Tensor s = cpu2().swiglu(g);
    CHECK(s.shape == (Shape{2, 5, n}));
    CHECK_REL(s, sref, kTol, "swiglu n=" << n);
  }
  Tensor odd = random_tensor(Shape{4, 7}, DType::F32, 1);
  CHECK_THROWS_CODE(cpu2().swiglu(odd), "OVIS_BAD_ARGUMENT");
  Tensor nanx = random_tensor(Shape{9}, DType::F32, 1);
  nanx.ptr<float>()[3] = NAN;
  Tensor sy = cpu2().silu(nanx);
  CHECK(std::isnan(sy.ptr<float>()[3]) && !std::isnan(sy.ptr<float>()[2]));
  cpu::force_portable(true);
  Tensor sp = cpu2().silu(nanx);
  cpu::force_portable(false);
  CHECK(std::isnan(sp.ptr<float>()[3]) && std::fabs(sp.ptr<float>()[2] - sy.ptr<float>()[2]) < 1e-6f);
}

TEST(add_gated_add_axpby) {
  Tensor x = random_tensor(Shape{2, 9, 33}, DType::F32, 1);
  Tensor y = random_tensor(Shape{2, 9, 33}, DType::F32, 2);
  Tensor g = random_tensor(Shape{2, 33}, DType::F32, 3);
  const auto xv = to_f64(x), yv = to_f64(y), gv = to_f64(g);
  Tensor a = cpu2().to_host_f32(x);
  cpu2().add_(a, y);
  std::vector<double> ref(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) ref[i] = xv[i] + yv[i];
  CHECK_REL(a, ref, kTol, "add_");
  Tensor ga = cpu2().to_host_f32(x);
  cpu2().gated_add_(ga, g, y);
  for (size_t i = 0; i < xv.size(); ++i) ref[i] = xv[i] + gv[(i / (9 * 33)) * 33 + i % 33] * yv[i];
  CHECK_REL(ga, ref, kTol, "gated_add_");
  Tensor ab = cpu2().to_host_f32(x);
  cpu2().axpby_(ab, 0.3f, y, -1.7f);
  for (size_t i = 0; i < xv.size(); ++i) ref[i] = xv[i] * 0.3 + yv[i] * -1.7;
  CHECK_REL(ab, ref, kTol, "axpby_");
  Tensor wrong = random_tensor(Shape{2, 9, 32}, DType::F32, 4);
  CHECK_THROWS_CODE(cpu2().add_(a, wrong), "OVIS_BAD_ARGUMENT");
  CHECK_THROWS_CODE(cpu2().axpby_(a, 1.f, wrong, 1.f), "OVIS_BAD_ARGUMENT");
  Tensor gbad = random_tensor(Shape{1, 33}, DType::F32, 5);
  CHECK_THROWS_CODE(cpu2().gated_add_(a, gbad, y), "OVIS_BAD_ARGUMENT");
}

// ---- norms ----------------------------------------------------------------------------------------
TEST(layer_norm_mod) {
  for (int64_t D : {1, 7, 64, 1031}) {
    Tensor x = random_tensor(Shape{2, 5, D}, DType::F32, uint32_t(D), -3.f, 5.f);
    Tensor sh = random_tensor(Shape{2, D}, DType::F32, uint32_t(D + 1));
    Tensor sc = random_tensor(Shape{2, D}, DType::F32, uint32_t(D + 2));
    const auto xv = to_f64(x), shv = to_f64(sh), scv = to_f64(sc);
    std::vector<double> plain(xv.size()), mod(xv.size());
    for (int64_t r = 0; r < 10; ++r) {
      double m = 0, v = 0;
      for (int64_t d = 0; d < D; ++d) m += xv[size_t(r * D + d)];
      m /= double(D);
      for (int64_t d = 0; d < D; ++d) v += (xv[size_t(r * D + d)] - m) * (xv[size_t(r * D + d)] - m);
      v /= double(D);
      for (int64_t d = 0; d < D; ++d) {
        const size_t i = size_t(r * D + d), bi = size_t((r / 5) * D + d);
        plain[i] = (xv[i] - m) / std::sqrt(v + 1e-6);
        mod[i] = plain[i] * (1 + scv[bi]) + shv[bi];
      }
    }
    if (D > 1) CHECK_REL(cpu2().layer_norm_mod(x, nullptr, nullptr, 1e-6f), plain, kTol, "plain D=" << D);
    CHECK_REL(cpu2().layer_norm_mod(x, &sh, &sc, 1e-6f), mod, kTol, "mod D=" << D);
  }
  Tensor x = random_tensor(Shape{2, 5, 8}, DType::F32, 1);
  Tensor bad = random_tensor(Shape{2, 7}, DType::F32, 2);
  CHECK_THROWS_CODE(cpu2().layer_norm_mod(x, &bad, nullptr, 1e-6f), "OVIS_BAD_ARGUMENT");
  x.ptr<float>()[3] = NAN;
  Tensor y = cpu2().layer_norm_mod(x, nullptr, nullptr, 1e-6f);
  CHECK(std::isnan(y.ptr<float>()[0]) && !std::isnan(y.ptr<float>()[8]));
}

TEST(rms_norm_weight_dtypes) {
  for (DType wt : kWeightTypes)
    for (int64_t d : {3, 128, 2048}) {
      Tensor x = random_tensor(Shape{3, 4, d}, DType::F32, uint32_t(d), -2.f, 2.f);
      Tensor w = random_tensor(Shape{d}, wt, uint32_t(d + 9));
      const auto xv = to_f64(x), wv = to_f64(w);
      std::vector<double> ref(xv.size());
      for (int64_t r = 0; r < 12; ++r) {
        double ms = 0;
        for (int64_t i = 0; i < d; ++i) ms += xv[size_t(r * d + i)] * xv[size_t(r * d + i)];
        const double inv = 1.0 / std::sqrt(ms / double(d) + 1e-6);
        for (int64_t i = 0; i < d; ++i) ref[size_t(r * d + i)] = xv[size_t(r * d + i)] * inv * wv[size_t(i)];
      }
      CHECK_REL(cpu2().rms_norm(x, w, 1e-6f), ref, kTol, "d=" << d << " " << dn(wt));
    }
  Tensor x = random_tensor(Shape{3, 8}, DType::F32, 1);
  Tensor w = random_tensor(Shape{7}, DType::F32, 1);
  CHECK_THROWS_CODE(cpu2().rms_norm(x, w, 1e-6f), "OVIS_BAD_ARGUMENT");
}

TEST(group_norm_silu) {
  for (DType wt : kWeightTypes)
    for (bool silu : {false, true}) {
      const int64_t B = 2, C = 12, H = 5, W = 7, G = 4;
      Tensor x = random_tensor(Shape{B, C, H, W}, DType::F32, 3, -2.f, 4.f);
      Tensor w = random_tensor(Shape{C}, wt, 4);
      Tensor b = random_tensor(Shape{C}, wt, 5);
      const auto xv = to_f64(x), wv = to_f64(w), bv = to_f64(b);
      std::vector<double> ref(xv.size());
      const int64_t n = (C / G) * H * W;
      for (int64_t bg = 0; bg < B * G; ++bg) {
        double m = 0, v = 0;
        for (int64_t i = 0; i < n; ++i) m += xv[size_t(bg * n + i)];
        m /= double(n);
        for (int64_t i = 0; i < n; ++i) v += (xv[size_t(bg * n + i)] - m) * (xv[size_t(bg * n + i)] - m);
        v /= double(n);
        for (int64_t i = 0; i < n; ++i) {
          const int64_t c = (bg % G) * (C / G) + i / (H * W);
          double y = (xv[size_t(bg * n + i)] - m) / std::sqrt(v + 1e-6) * wv[size_t(c)] + bv[size_t(c)];
          if (silu) y = y / (1 + std::exp(-y));
          ref[size_t(bg * n + i)] = y;
        }
      }
      Tensor y = cpu2().group_norm(x, w, b, int(G), 1e-6f, silu);
      CHECK_REL(y, ref, kTol, dn(wt) << " silu=" << silu);
      CHECK(ovis_test::same_bytes(y, cpu1().group_norm(x, w, b, int(G), 1e-6f, silu)));
    }
  {
    // Groups of 3219 values (several statistics chunks, a partial last one) around a mean of 1000: the
    // variance must not come from a large sum of squares minus a large squared mean.
    const int64_t C = 6, H = 37, W = 29, G = 2, n = (C / G) * H * W;
    Tensor x = random_tensor(Shape{1, C, H, W}, DType::F32, 7, 999.f, 1001.f);
    Tensor w = random_tensor(Shape{C}, DType::F32, 8);
    Tensor b = random_tensor(Shape{C}, DType::F32, 9);
    const auto xv = to_f64(x), wv = to_f64(w), bv = to_f64(b);
    std::vector<double> ref(xv.size());
    for (int64_t g = 0; g < G; ++g) {
      double m = 0, v = 0;
      for (int64_t i = 0; i < n; ++i) m += xv[size_t(g * n + i)];
      m /= double(n);
      for (int64_t i = 0; i < n; ++i) v += (xv[size_t(g * n + i)] - m) * (xv[size_t(g * n + i)] - m);
      v /= double(n);
      for (int64_t i = 0; i < n; ++i) {
        const int64_t c = g * (C / G) + i / (H * W);
        const double y = (xv[size_t(g * n + i)] - m) / std::sqrt(v + 1e-6) * wv[size_t(c)] + bv[size_t(c)];
        ref[size_t(g * n + i)] = y / (1 + std::exp(-y));
      }
    }
    Tensor y = cpu2().group_norm(x, w, b, int(G), 1e-6f, true);
    CHECK_REL(y, ref, kTol, "large groups, mean 1000");
    CHECK(ovis_test::same_bytes(y, cpu1().group_norm(x, w, b, int(G), 1e-6f, true)));
  }
  Tensor x = random_tensor(Shape{1, 6, 2, 2}, DType::F32, 1);
  Tensor w = random_tensor(Shape{6}, DType::F32, 1);
  CHECK_THROWS_CODE(cpu2().group_norm(x, w, w, 4, 1e-6f, false), "OVIS_BAD_ARGUMENT");
  Tensor x3 = random_tensor(Shape{6, 2, 2}, DType::F32, 1);
  CHECK_THROWS_CODE(cpu2().group_norm(x3, w, w, 3, 1e-6f, false), "OVIS_BAD_ARGUMENT");
}

TEST(host_block_cache_reuses_and_trims) {
  CHECK(cpu::host_block_cache_capacity() >= cpu::kCachedBytesFloor);
  CHECK(cpu::host_block_cache_capacity() <= cpu::kCachedBytesCeiling);
  cpu2().trim();
  CHECK(cpu::host_block_cache_bytes() == 0);
  Tensor x = random_tensor(Shape{1, 4, 256, 256}, DType::F32, 11);  // 1 MiB: cached size class
  Tensor w = random_tensor(Shape{4}, DType::F32, 12);
  void* first = nullptr;
  {
    Tensor y = cpu2().group_norm(x, w, w, 2, 1e-6f, false);
    first = y.data;
  }
  CHECK(cpu::host_block_cache_bytes() >= size_t(4 * 256 * 256 * 4));
  Tensor y2 = cpu2().group_norm(x, w, w, 2, 1e-6f, true);  // same size: gets the freed block back
  CHECK(y2.data == first);
  CHECK(cpu::host_block_cache_bytes() == 0);
  CHECK(ovis_test::same_bytes(y2, cpu1().group_norm(x, w, w, 2, 1e-6f, true)));
  y2 = Tensor{};
  CHECK(cpu::host_block_cache_bytes() > 0);
  cpu2().trim();
  CHECK(cpu::host_block_cache_bytes() == 0);
}

TEST(host_block_cache_counts_as_free_memory) {
  // A freed block kept for reuse is this process's to use again: free_memory (what VAE tiling and the offload
  // budget plan with) must count it, not only what the OS reports available.
  cpu2().trim();
  constexpr int64_t kFloats = int64_t(256) << 18;  // 256 MiB, under the cache's smallest capacity
  size_t held = 0;
  {
    Tensor big = cpu2().alloc(Shape{kFloats}, DType::F32);
    std::memset(big.data, 1, big.nbytes());  // resident, so the OS no longer counts it available
    held = cpu2().free_memory();
  }
  CHECK(cpu::host_block_cache_bytes() >= size_t(kFloats) * 4);
  const size_t cached = cpu2().free_memory();
  CHECK_MSG(cached >= held + (size_t(128) << 20),
            "free memory " << held << " -> " << cached << " after caching 256 MiB");
  cpu2().trim();
}

// ---- positions ------------------------------------------------------------------------------------
TEST(rope_interleaved_and_half) {
  const int64_t B = 2, S = 7, H = 3, hd = 10;
  Tensor cs = random_tensor(Shape{S, hd / 2}, DType::F32, 1);
  Tensor sn = random_tensor(Shape{S, hd / 2}, DType::F32, 2);
  for (bool interleaved : {true, false}) {
    Tensor x = random_tensor(Shape{B, S, H, hd}, DType::F32, 3);
    const auto xv = to_f64(x), cv = to_f64(cs), sv = to_f64(sn);
    std::vector<double> ref = xv;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t s = 0; s < S; ++s)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t i = 0; i < hd / 2; ++i) {
            const size_t base = size_t(((b * S + s) * H + h) * hd);
            const size_t i0 = base + size_t(interleaved ? 2 * i : i);
            const size_t i1 = base + size_t(interleaved ? 2 * i + 1 : i + hd / 2);
            const double c = cv[size_t(s * hd / 2 + i)], n = sv[size_t(s * hd / 2 + i)];
            ref[i0] = xv[i0] * c - xv[i1] * n;
            ref[i1] = xv[i1] * c + xv[i0] * n;
          }
    if (interleaved)
      cpu2().rope_interleaved_(x, cs, sn);
    else
      cpu2().rope_half_(x, cs, sn);
    CHECK_REL(x, ref, kTol, "interleaved=" << interleaved);
  }
  Tensor x = random_tensor(Shape{B, S + 1, H, hd}, DType::F32, 3);
  CHECK_THROWS_CODE(cpu2().rope_half_(x, cs, sn), "OVIS_BAD_ARGUMENT");
}

// ---- attention ------------------------------------------------------------------------------------
namespace {
std::vector<double> ref_attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale, bool causal,
                                  const Tensor* mask) {
  const int64_t B = q.shape[0], Sq = q.shape[1], Hq = q.shape[2], hd = q.shape[3], Sk = k.shape[1], Hkv = k.shape[2];
  const auto qv = to_f64(q), kv = to_f64(k), vv = to_f64(v);
  const std::vector<double> mv = mask ? to_f64(*mask) : std::vector<double>();
  std::vector<double> out(static_cast<size_t>(B * Sq * Hq * hd), 0.0), s(static_cast<size_t>(Sk));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < Hq; ++h) {
      const int64_t hk = h / (Hq / Hkv);
      for (int64_t i = 0; i < Sq; ++i) {
        double m = -INFINITY;
        for (int64_t j = 0; j < Sk; ++j) {
          const bool visible = (!mask || mv[size_t(b * Sk + j)] != 0.0) && (!causal || j <= i);
          double dot = 0;
          for (int64_t d = 0; d < hd; ++d)
            dot += qv[size_t(((b * Sq + i) * Hq + h) * hd + d)] * kv[size_t(((b * Sk + j) * Hkv + hk) * hd + d)];
          s[size_t(j)] = visible ? dot * scale : -INFINITY;
          m = std::max(m, s[size_t(j)]);
        }
        if (m == -INFINITY) continue;  // all masked: zeros
        double l = 0;
        for (int64_t j = 0; j < Sk; ++j) l += (s[size_t(j)] = std::exp(s[size_t(j)] - m));
        for (int64_t d = 0; d < hd; ++d) {
          double acc = 0;
          for (int64_t j = 0; j < Sk; ++j) acc += s[size_t(j)] * vv[size_t(((b * Sk + j) * Hkv + hk) * hd + d)];
          out[size_t(((b * Sq + i) * Hq + h) * hd + d)] = acc / l;
        }
      }
    }
  return out;
}
}  // namespace

TEST(attention_full_causal_mask_gqa) {
  struct Case {
    int64_t B, Sq, Sk, Hq, Hkv, hd;
    bool causal, mask;
  };
  const Case cases[] = {
      {1, 1, 1, 1, 1, 8, false, false},    {2, 7, 33, 4, 2, 20, false, true},    {1, 200, 200, 2, 1, 64, true, false},
      {2, 130, 130, 4, 2, 32, true, true}, {1, 97, 300, 3, 3, 128, false, true}, {1, 33, 33, 6, 2, 5, true, false},
  };
  uint32_t seed = 50;
  for (const Case& c : cases) {
    Tensor q = random_tensor(Shape{c.B, c.Sq, c.Hq, c.hd}, DType::F32, seed++, -2.f, 2.f);
    Tensor k = random_tensor(Shape{c.B, c.Sk, c.Hkv, c.hd}, DType::F32, seed++, -2.f, 2.f);
    Tensor v = random_tensor(Shape{c.B, c.Sk, c.Hkv, c.hd}, DType::F32, seed++);
    Tensor mask = host_f32(Shape{c.B, c.Sk});
    for (int64_t i = 0; i < mask.numel(); ++i) mask.ptr<float>()[i] = (i * 7 + 3) % 5 == 0 ? 0.f : 1.f;
    const float scale = 1.f / std::sqrt(float(c.hd));
    Tensor out = cpu2().attention(q, k, v, scale, c.causal, c.mask ? &mask : nullptr);
    CHECK(out.shape == q.shape);
    CHECK_REL(out, ref_attention(q, k, v, scale, c.causal, c.mask ? &mask : nullptr), kTol,
              "Sq=" << c.Sq << " Sk=" << c.Sk << " Hq=" << c.Hq << " Hkv=" << c.Hkv << " hd=" << c.hd
                    << " causal=" << c.causal << " mask=" << c.mask);
    CHECK(ovis_test::same_bytes(out, cpu1().attention(q, k, v, scale, c.causal, c.mask ? &mask : nullptr)));
  }
}

TEST(attention_all_masked_nan_and_errors) {
  Tensor q = random_tensor(Shape{2, 5, 2, 16}, DType::F32, 1);
  Tensor k = random_tensor(Shape{2, 9, 1, 16}, DType::F32, 2);
  Tensor v = random_tensor(Shape{2, 9, 1, 16}, DType::F32, 3);
  Tensor mask = host_f32(Shape{2, 9});
  for (int64_t i = 0; i < 18; ++i) mask.ptr<float>()[i] = i < 9 ? 0.f : 1.f;  // batch 0 fully masked
  Tensor out = cpu2().attention(q, k, v, 0.25f, false, &mask);
  for (int64_t i = 0; i < 5 * 2 * 16; ++i) CHECK(out.ptr<float>()[i] == 0.f);
  CHECK_REL(out, ref_attention(q, k, v, 0.25, false, &mask), kTol, "all masked batch");
  // NaN in one query row propagates to that row only, without hanging.
  Tensor qn = cpu2().to_host_f32(q);
  qn.ptr<float>()[0] = NAN;
  Tensor on = cpu2().attention(qn, k, v, 0.25f, false, nullptr);
  CHECK(std::isnan(on.ptr<float>()[0]) && !std::isnan(on.ptr<float>()[16]));
  Tensor kinf = cpu2().to_host_f32(k);
  kinf.ptr<float>()[0] = INFINITY;
  (void)cpu2().attention(q, kinf, v, 0.25f, false, nullptr);  // must simply return
  Tensor qs = random_tensor(Shape{2, 9, 2, 16}, DType::F32, 5);
  Tensor ocausal = cpu2().attention(qs, kinf, v, 0.25f, true, nullptr);
  CHECK(any_nan(ocausal) || !std::isfinite(ocausal.ptr<float>()[0]));
  Tensor kbad = random_tensor(Shape{2, 9, 3, 16}, DType::F32, 4);
  CHECK_THROWS_CODE(cpu2().attention(q, kbad, kbad, 1.f, false, nullptr), "OVIS_BAD_ARGUMENT");
  CHECK_THROWS_CODE(cpu2().attention(q, k, v, 1.f, true, nullptr), "OVIS_BAD_ARGUMENT");  // causal Sq != Sk
  Tensor mbad = host_f32(Shape{2, 8});
  CHECK_THROWS_CODE(cpu2().attention(q, k, v, 1.f, false, &mbad), "OVIS_BAD_ARGUMENT");
}

// ---- convolution ----------------------------------------------------------------------------------
namespace {
std::vector<double> ref_conv(const Tensor& x, const Tensor& w, const Tensor* bias, int s, int pt, int pl, int pb,
                             int pr) {
  const int64_t B = x.shape[0], Ci = x.shape[1], H = x.shape[2], W = x.shape[3];
  const int64_t Co = w.shape[0], kh = w.shape[2], kw = w.shape[3];
  const int64_t Ho = (H + pt + pb - kh) / s + 1, Wo = (W + pl + pr - kw) / s + 1;
  const auto xv = to_f64(x), wv = to_f64(w);
  const std::vector<double> bv = bias ? to_f64(*bias) : std::vector<double>(size_t(Co), 0.0);
  std::vector<double> out(size_t(B * Co * Ho * Wo));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t co = 0; co < Co; ++co)
      for (int64_t oy = 0; oy < Ho; ++oy)
        for (int64_t ox = 0; ox < Wo; ++ox) {
          double acc = bv[size_t(co)];
          for (int64_t ci = 0; ci < Ci; ++ci)
            for (int64_t ky = 0; ky < kh; ++ky)
              for (int64_t kx = 0; kx < kw; ++kx) {
                const int64_t iy = oy * s + ky - pt, ix = ox * s + kx - pl;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                acc += xv[size_t(((b * Ci + ci) * H + iy) * W + ix)] * wv[size_t(((co * Ci + ci) * kh + ky) * kw + kx)];
              }
          out[size_t(((b * Co + co) * Ho + oy) * Wo + ox)] = acc;
        }
  return out;
}
}  // namespace

TEST(conv2d_kernels_strides_padding) {
  struct Case {
    int64_t B, Ci, Co, H, W, k;
    int s, pt, pl, pb, pr;
  };
  const Case cases[] = {
      {1, 3, 5, 9, 11, 3, 1, 1, 1, 1, 1},     // 3x3 same
      {2, 7, 17, 10, 13, 3, 2, 0, 0, 1, 1},   // VAE encoder downsample: pad (0,1,0,1) stride 2
      {1, 16, 33, 8, 8, 1, 1, 0, 0, 0, 0},    // 1x1 direct
      {1, 5, 4, 7, 6, 1, 2, 0, 0, 0, 0},      // 1x1 stride 2
      {1, 3, 8, 5, 5, 3, 1, 0, 0, 0, 0},      // valid
      {1, 64, 40, 20, 24, 3, 1, 1, 1, 1, 1},  // K = 576 crosses a KC block
  };
  uint32_t seed = 80;
  for (const Case& c : cases)
    for (DType wt : kWeightTypes) {
      Tensor x = random_tensor(Shape{c.B, c.Ci, c.H, c.W}, DType::F32, seed++);
      Tensor w = random_tensor(Shape{c.Co, c.Ci, c.k, c.k}, wt, seed++);
      Tensor b = random_tensor(Shape{c.Co}, wt, seed++);
      Tensor y = cpu2().conv2d(x, w, &b, c.s, c.pt, c.pl, c.pb, c.pr);
      const int64_t Ho = (c.H + c.pt + c.pb - c.k) / c.s + 1, Wo = (c.W + c.pl + c.pr - c.k) / c.s + 1;
      CHECK(y.shape == (Shape{c.B, c.Co, Ho, Wo}));
      CHECK_REL(y, ref_conv(x, w, &b, c.s, c.pt, c.pl, c.pb, c.pr), kTol,
                "Ci=" << c.Ci << " Co=" << c.Co << " k=" << c.k << " s=" << c.s << " " << dn(wt));
      if (wt == DType::BF16) CHECK(ovis_test::same_bytes(y, cpu1().conv2d(x, w, &b, c.s, c.pt, c.pl, c.pb, c.pr)));
    }
  Tensor x = random_tensor(Shape{1, 3, 4, 4}, DType::F32, 1);
  Tensor w = random_tensor(Shape{2, 4, 3, 3}, DType::F32, 2);
  CHECK_THROWS_CODE(cpu2().conv2d(x, w, nullptr, 1, 1, 1, 1, 1), "OVIS_BAD_ARGUMENT");
  Tensor w2 = random_tensor(Shape{2, 3, 3, 3}, DType::F32, 2);
  CHECK_THROWS_CODE(cpu2().conv2d(x, w2, nullptr, 0, 1, 1, 1, 1), "OVIS_BAD_ARGUMENT");
  Tensor tiny = random_tensor(Shape{1, 3, 1, 1}, DType::F32, 1);
  CHECK_THROWS_CODE(cpu2().conv2d(tiny, w2, nullptr, 1, 0, 0, 0, 0), "OVIS_BAD_ARGUMENT");
  x.ptr<float>()[0] = NAN;
  CHECK(any_nan(cpu2().conv2d(x, w2, nullptr, 1, 1, 1, 1, 1)));
}

TEST(conv2d_row_segments_channel_blocks) {
  // Shapes that reach the implicit GEMM's less common paths: output rows split into several segments
  // (wide rows, partial last panel), Cout past one segment size class, uneven input-channel blocks
  // (7x7: 7 channels per block), 1x1 with padding, stride 2 across segments.
  struct Case {
    int64_t Ci, Co, H, W, k;
    int s, pt, pl, pb, pr;
  };
  const Case cases[] = {
      {3, 5, 3, 300, 3, 1, 1, 1, 1, 1},    // 2 segments of 160 (last one 140 wide)
      {2, 140, 2, 130, 3, 1, 1, 1, 1, 1},  // Cout 140: segments of 128 -> 2 x 80
      {9, 4, 9, 10, 7, 1, 3, 3, 3, 3},     // 7x7: channel blocks 5 + 4
      {6, 7, 5, 6, 1, 1, 1, 2, 0, 1},      // 1x1 with asymmetric padding
      {4, 6, 5, 530, 3, 2, 0, 0, 1, 1},    // stride 2, 265 output columns -> 2 segments
      {33, 3, 6, 17, 3, 1, 1, 1, 1, 1},    // Cout 3 (conv_out): one mostly empty micro-panel
  };
  uint32_t seed = 200;
  for (const Case& c : cases) {
    Tensor x = random_tensor(Shape{1, c.Ci, c.H, c.W}, DType::F32, seed++);
    Tensor w = random_tensor(Shape{c.Co, c.Ci, c.k, c.k}, DType::BF16, seed++);
    Tensor b = random_tensor(Shape{c.Co}, DType::F32, seed++);
    Tensor y = cpu2().conv2d(x, w, &b, c.s, c.pt, c.pl, c.pb, c.pr);
    const std::string what = "Ci=" + std::to_string(c.Ci) + " Co=" + std::to_string(c.Co) +
                             " W=" + std::to_string(c.W) + " k=" + std::to_string(c.k) + " s=" + std::to_string(c.s);
    CHECK_REL(y, ref_conv(x, w, &b, c.s, c.pt, c.pl, c.pb, c.pr), kTol, what);
    CHECK_MSG(ovis_test::same_bytes(y, cpu1().conv2d(x, w, &b, c.s, c.pt, c.pl, c.pb, c.pr)), what);
    cpu::force_portable(true);
    Tensor yp = cpu2().conv2d(x, w, nullptr, c.s, c.pt, c.pl, c.pb, c.pr);
    cpu::force_portable(false);
    CHECK_REL(yp, ref_conv(x, w, nullptr, c.s, c.pt, c.pl, c.pb, c.pr), kTol, "portable " << what);
  }
  // No input channels: the output is the bias.
  Tensor x0 = host_f32(Shape{1, 0, 4, 4});
  Tensor w0 = host_f32(Shape{3, 0, 3, 3});
  Tensor b0 = random_tensor(Shape{3}, DType::F32, 1);
  Tensor y0 = cpu2().conv2d(x0, w0, &b0, 1, 1, 1, 1, 1);
  CHECK(y0.shape == (Shape{1, 3, 4, 4}) && y0.ptr<float>()[16 * 2 + 5] == b0.ptr<float>()[2]);
}

TEST(conv2d_avx512_kernel_same_bits_as_avx2) {
  // The AVX-512 direct kernel (two panels at a time) against the AVX2 one: stride 1, odd panel counts,
  // 1x1, 7x7, several channel blocks, a 32-channel 3x3 with Winograd off. Same FMA chains: same bits.
  struct Case {
    int64_t Ci, Co, H, W, k;
    int p;
  };
  const Case cases[] = {{3, 5, 9, 75, 3, 1}, {64, 40, 5, 49, 3, 1}, {16, 33, 6, 40, 1, 0},
                        {9, 4, 9, 37, 7, 3}, {33, 3, 6, 300, 3, 1}, {32, 32, 7, 70, 3, 1}};
  uint32_t seed = 400;
  cpu::set_winograd_enabled(false);
  for (const Case& c : cases) {
    Tensor x = random_tensor(Shape{1, c.Ci, c.H, c.W}, DType::F32, seed++);
    Tensor w = random_tensor(Shape{c.Co, c.Ci, c.k, c.k}, DType::BF16, seed++);
    Tensor b = random_tensor(Shape{c.Co}, DType::F32, seed++);
    const std::string what = "Ci=" + std::to_string(c.Ci) + " Co=" + std::to_string(c.Co) +
                             " W=" + std::to_string(c.W) + " k=" + std::to_string(c.k);
    Tensor y = cpu2().conv2d(x, w, &b, 1, c.p, c.p, c.p, c.p);
    cpu::force_avx2(true);
    Tensor y2 = cpu2().conv2d(x, w, &b, 1, c.p, c.p, c.p, c.p);
    cpu::force_avx2(false);
    CHECK_REL(y, ref_conv(x, w, &b, 1, c.p, c.p, c.p, c.p), kTol, what);
    CHECK_MSG(ovis_test::same_bytes(y, y2), "AVX-512 vs AVX2 " + what);
  }
  cpu::set_winograd_enabled(true);
}

TEST(conv2d_winograd_matches_reference_and_direct) {
  // Stride-1 3x3 convs with >= 16 channels take Winograd F(4x2, 3x3): odd sizes (partial tiles and
  // panels), valid and asymmetric padding, Cout not a multiple of the micro-panel, Cin past one slab
  // chunk (64) and one GEMM depth block (256), batch 2, a single row, several tile rows per task (the
  // last one short) with panels inside the image and on its borders; Cin * Cout >= 256^2 runs each
  // position's product as one GEMM over groups of panels. AVX-512 and AVX2 products give the same bits.
  struct Case {
    int64_t B, Ci, Co, H, W;
    int pt, pl, pb, pr;
  };
  const Case cases[] = {
      {1, 16, 16, 9, 11, 1, 1, 1, 1},    {2, 37, 19, 13, 70, 1, 1, 1, 1},  {1, 70, 24, 6, 5, 0, 0, 0, 0},
      {1, 300, 20, 5, 7, 1, 1, 1, 1},    {1, 16, 17, 8, 9, 0, 1, 1, 0},    {1, 24, 32, 1, 40, 1, 1, 1, 1},
      {1, 130, 128, 21, 75, 1, 1, 1, 1}, {1, 260, 255, 7, 37, 1, 1, 1, 1},  // the last: batched GEMMs
      {1, 520, 130, 23, 70, 1, 1, 1, 1},                                    // batched, 2 groups of panels (15 + 3)
      {1, 48, 40, 18, 20, 1, 1, 1, 1},                                      // the last tile row 2 of 4 output rows
  };
  uint32_t seed = 300;
  for (const Case& c : cases)
    for (DType wt : kWeightTypes) {
      if (wt != DType::F32 && c.Ci * c.Co > 50000) continue;  // (the double reference is slow)
      Tensor x = random_tensor(Shape{c.B, c.Ci, c.H, c.W}, DType::F32, seed++);
      Tensor w = random_tensor(Shape{c.Co, c.Ci, 3, 3}, wt, seed++);
      Tensor b = random_tensor(Shape{c.Co}, DType::F32, seed++);
      const std::string what = "Ci=" + std::to_string(c.Ci) + " Co=" + std::to_string(c.Co) + " " +
                               std::to_string(c.H) + "x" + std::to_string(c.W) + " " + dn(wt);
      Tensor y = cpu2().conv2d(x, w, &b, 1, c.pt, c.pl, c.pb, c.pr);
      const int64_t Ho = c.H + c.pt + c.pb - 2, Wo = c.W + c.pl + c.pr - 2;
      CHECK(y.shape == (Shape{c.B, c.Co, Ho, Wo}));
      CHECK_REL(y, ref_conv(x, w, &b, 1, c.pt, c.pl, c.pb, c.pr), kTol, what);
      CHECK_MSG(ovis_test::same_bytes(y, cpu1().conv2d(x, w, &b, 1, c.pt, c.pl, c.pb, c.pr)), what);
      cpu::force_avx2(true);  // the AVX-512 12x32 products (where the CPU has them) against the 6x16 ones
      Tensor y2 = cpu2().conv2d(x, w, &b, 1, c.pt, c.pl, c.pb, c.pr);
      cpu::force_avx2(false);
      CHECK_MSG(ovis_test::same_bytes(y, y2), "AVX-512 vs AVX2 " + what);
      cpu::set_winograd_enabled(false);
      Tensor yd = cpu2().conv2d(x, w, &b, 1, c.pt, c.pl, c.pb, c.pr);
      cpu::set_winograd_enabled(true);
      CHECK_REL(y, to_f64(yd), kTol, "vs direct " << what);
      CHECK_MSG(!ovis_test::same_bytes(y, yd), "Winograd path not taken: " + what);  // it rounds differently
    }
}

TEST(conv2d_winograd_large_output_streamed) {
  // Outputs of >= 16 MiB are stored past the caches (full panels only; the last panel here is partial):
  // the same values as the direct conv within the bound, the same bits on 1 and 2 threads.
  Tensor x = random_tensor(Shape{1, 16, 520, 520}, DType::F32, 500);
  Tensor w = random_tensor(Shape{16, 16, 3, 3}, DType::BF16, 501);
  Tensor b = random_tensor(Shape{16}, DType::F32, 502);
  Tensor y = cpu2().conv2d(x, w, &b, 1, 1, 1, 1, 1);
  cpu::set_winograd_enabled(false);
  Tensor yd = cpu2().conv2d(x, w, &b, 1, 1, 1, 1, 1);
  cpu::set_winograd_enabled(true);
  CHECK_REL(y, to_f64(yd), kTol, "16x520x520 Winograd vs direct");
  CHECK(!ovis_test::same_bytes(y, yd));
  CHECK(ovis_test::same_bytes(y, cpu1().conv2d(x, w, &b, 1, 1, 1, 1, 1)));
}

TEST(conv2d_vae_sizes_threads_identical) {
  // A VAE-like 3x3 at a size where several tasks run at once, plus the 1x1 shortcut.
  Tensor x = random_tensor(Shape{1, 64, 40, 72}, DType::F32, 300);
  Tensor w = random_tensor(Shape{32, 64, 3, 3}, DType::BF16, 301);
  Tensor b = random_tensor(Shape{32}, DType::BF16, 302);
  Tensor y = cpu2().conv2d(x, w, &b, 1, 1, 1, 1, 1);
  CHECK_REL(y, ref_conv(x, w, &b, 1, 1, 1, 1, 1), kTol, "3x3 64->32");
  CHECK(ovis_test::same_bytes(y, cpu1().conv2d(x, w, &b, 1, 1, 1, 1, 1)));
  Tensor ws = random_tensor(Shape{32, 64, 1, 1}, DType::BF16, 303);
  Tensor ys = cpu2().conv2d(x, ws, &b, 1, 0, 0, 0, 0);
  CHECK_REL(ys, ref_conv(x, ws, &b, 1, 0, 0, 0, 0), kTol, "1x1 64->32");
  CHECK(ovis_test::same_bytes(ys, cpu1().conv2d(x, ws, &b, 1, 0, 0, 0, 0)));
}

// ---- resampling and layout ------------------------------------------------------------------------
TEST(upsample_concat_slice_transpose) {
  Tensor x = random_tensor(Shape{2, 3, 4, 5}, DType::F32, 1);
  Tensor u = cpu2().upsample_nearest2x(x);
  CHECK(u.shape == (Shape{2, 3, 8, 10}));
  for (int64_t p = 0; p < 6; ++p)
    for (int64_t yy = 0; yy < 8; ++yy)
      for (int64_t xx = 0; xx < 10; ++xx)
        CHECK(u.ptr<float>()[(p * 8 + yy) * 10 + xx] == x.ptr<float>()[(p * 4 + yy / 2) * 5 + xx / 2]);
  for (DType t : kWeightTypes) {
    Tensor a = random_tensor(Shape{2, 3, 4}, t, 2), b = random_tensor(Shape{2, 5, 4}, t, 3);
    Tensor c = cpu2().concat(a, b, 1);
    CHECK(c.shape == (Shape{2, 8, 4}) && c.dtype == t);
    const auto av = to_f64(a), bv = to_f64(b), cv = to_f64(c);
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 8; ++j)
        for (int64_t k = 0; k < 4; ++k)
          CHECK(cv[size_t((i * 8 + j) * 4 + k)] ==
                (j < 3 ? av[size_t((i * 3 + j) * 4 + k)] : bv[size_t((i * 5 + j - 3) * 4 + k)]));
    Tensor c2 = cpu2().concat(a, a, -1);
    CHECK(c2.shape == (Shape{2, 3, 8}));
    Tensor s = cpu2().slice(c, 1, 3, 5);
    CHECK(ovis_test::same_bytes(s, b));
    Tensor s0 = cpu2().slice(c, 0, 1, 1);
    CHECK(s0.shape == (Shape{1, 8, 4}) && to_f64(s0)[0] == cv[32]);
    Tensor m = random_tensor(Shape{3, 37, 45}, t, 4);
    Tensor tr = cpu2().transpose_last2(m);
    CHECK(tr.shape == (Shape{3, 45, 37}));
    const auto mv = to_f64(m), tv = to_f64(tr);
    bool ok = true;
    for (int64_t b0 = 0; b0 < 3; ++b0)
      for (int64_t i = 0; i < 37; ++i)
        for (int64_t j = 0; j < 45; ++j)
          ok = ok && tv[size_t((b0 * 45 + j) * 37 + i)] == mv[size_t((b0 * 37 + i) * 45 + j)];
    CHECK(ok);
  }
  Tensor a = random_tensor(Shape{2, 3}, DType::F32, 1), b = random_tensor(Shape{3, 3}, DType::F32, 2);
  CHECK_THROWS_CODE(cpu2().concat(a, b, 1), "OVIS_BAD_ARGUMENT");
  CHECK_THROWS_CODE(cpu2().concat(a, cpu2().cast(a, DType::BF16), 0), "OVIS_BAD_ARGUMENT");
  CHECK_THROWS_CODE(cpu2().slice(a, 1, 2, 2), "OVIS_BAD_ARGUMENT");
  CHECK_THROWS_CODE(cpu2().slice(a, 2, 0, 1), "OVIS_BAD_ARGUMENT");
  CHECK_THROWS_CODE(cpu2().upsample_nearest2x(a), "OVIS_BAD_ARGUMENT");
}

TEST(cast_upload_to_host) {
  Tensor x = random_tensor(Shape{3, 41}, DType::F32, 1, -100.f, 100.f);
  CHECK(cpu2().cast(x, DType::F32).data == x.data);
  for (DType t : {DType::BF16, DType::F16}) {
    Tensor c = cpu2().cast(x, t);
    CHECK(c.dtype == t && c.shape == x.shape);
    for (int64_t i = 0; i < x.numel(); ++i) {
      const uint16_t want = t == DType::BF16 ? f32_to_bf16(x.ptr<float>()[i]) : f32_to_f16(x.ptr<float>()[i]);
      CHECK(c.ptr<uint16_t>()[i] == want);
    }
    Tensor back = cpu2().to_host_f32(c);
    CHECK(back.dtype == DType::F32);
    CHECK_REL(back, to_f64(c), 0.0, "to_host_f32");
    CHECK_REL(back, to_f64(x), t == DType::BF16 ? 4e-3 : 6e-4, "round trip " << dn(t));
    Tensor cc = cpu2().cast(c, t == DType::BF16 ? DType::F16 : DType::BF16);
    CHECK(cc.dtype != t);
  }
  Tensor up = cpu2().upload(x);
  CHECK(up.data == x.data && up.shape == x.shape);
  Tensor h = cpu2().to_host_f32(x);
  CHECK(h.data != x.data && ovis_test::same_bytes(h, x));
  Tensor ids = host_alloc(Shape{4}, DType::I32);
  CHECK_THROWS_CODE(cpu2().cast(ids, DType::F32), "OVIS_BAD_ARGUMENT");
  CHECK_THROWS_CODE(cpu2().cast(x, DType::I32), "OVIS_BAD_ARGUMENT");
  Tensor a = cpu2().alloc(Shape{2, 2}, DType::BF16);
  CHECK(a.defined() && a.nbytes() == 8);
}
