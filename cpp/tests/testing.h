// A tiny test framework: TEST(name) registers a function, CHECK* macros throw on failure,
// helpers make random tensors and compare against double-precision references.
#pragma once
#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace ovis_test {

struct TestCase {
  const char* name;
  void (*fn)();
};
inline std::vector<TestCase>& registry() {
  static std::vector<TestCase> r;
  return r;
}
struct Registrar {
  Registrar(const char* name, void (*fn)()) { registry().push_back({name, fn}); }
};
struct TestFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};
[[noreturn]] inline void fail_at(const char* file, int line, const std::string& what) {
  std::ostringstream s;
  s << file << ":" << line << ": " << what;
  throw TestFailure(s.str());
}

#define TEST(name)                                                             \
  static void ovis_test_##name();                                              \
  static ::ovis_test::Registrar ovis_test_reg_##name(#name, ovis_test_##name); \
  static void ovis_test_##name()

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) ::ovis_test::fail_at(__FILE__, __LINE__, "CHECK(" #cond ")"); \
  } while (0)

#define CHECK_MSG(cond, msg)                                    \
  do {                                                          \
    if (!(cond)) {                                              \
      std::ostringstream ovis_os_;                              \
      ovis_os_ << "CHECK(" #cond ") " << msg;                   \
      ::ovis_test::fail_at(__FILE__, __LINE__, ovis_os_.str()); \
    }                                                           \
  } while (0)

// Checks rel_err(out, ref) <= tol, printing the context on failure.
#define CHECK_REL(out, ref, tol, ctx)                                            \
  do {                                                                           \
    const double ovis_e_ = ::ovis_test::rel_err((out), (ref));                   \
    if (!(ovis_e_ <= (tol))) {                                                   \
      std::ostringstream ovis_os_;                                               \
      ovis_os_ << "rel err " << ovis_e_ << " > " << (tol) << " (" << ctx << ")"; \
      ::ovis_test::fail_at(__FILE__, __LINE__, ovis_os_.str());                  \
    }                                                                            \
  } while (0)

// Checks that `expr` throws ovis::Error with the given code.
#define CHECK_THROWS_CODE(expr, code_str)                                                                    \
  do {                                                                                                       \
    bool ovis_thrown_ = false;                                                                               \
    try {                                                                                                    \
      (void)(expr);                                                                                          \
    } catch (const ::ovis::Error& e) {                                                                       \
      ovis_thrown_ = true;                                                                                   \
      if (e.code() != (code_str))                                                                            \
        ::ovis_test::fail_at(__FILE__, __LINE__,                                                             \
                             std::string("expected ") + (code_str) + ", got " + e.code() + ": " + e.what()); \
    }                                                                                                        \
    if (!ovis_thrown_) ::ovis_test::fail_at(__FILE__, __LINE__, "expected " #expr " to throw " code_str);    \
  } while (0)

// ||out - ref|| / ||ref|| (ref all zero: ||out||). NaN anywhere gives +inf.
inline double rel_err(const std::vector<double>& out, const std::vector<double>& ref) {
  if (out.size() != ref.size()) return INFINITY;
  double num = 0, den = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if (std::isnan(out[i]) || std::isnan(ref[i])) return INFINITY;
    const double d = out[i] - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

inline double elem_to_f64(const ovis::Tensor& t, int64_t i) {
  switch (t.dtype) {
    case ovis::DType::F32:
      return t.ptr<float>()[i];
    case ovis::DType::BF16:
      return ovis::bf16_to_f32(t.ptr<uint16_t>()[i]);
    case ovis::DType::F16:
      return ovis::f16_to_f32(t.ptr<uint16_t>()[i]);
    case ovis::DType::I32:
      return t.ptr<int32_t>()[i];
  }
  return 0;
}
// All elements of a host tensor as doubles (reference inputs use the values actually stored).
inline std::vector<double> to_f64(const ovis::Tensor& t) {
  std::vector<double> r(size_t(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) r[size_t(i)] = elem_to_f64(t, i);
  return r;
}
inline double rel_err(const ovis::Tensor& out, const std::vector<double>& ref) { return rel_err(to_f64(out), ref); }

// A host tensor of dtype t with uniform values in [lo, hi) (stored values rounded to the dtype).
inline ovis::Tensor random_tensor(const ovis::Shape& s, ovis::DType t, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  ovis::Tensor r = ovis::host_alloc(s, t);
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  for (int64_t i = 0; i < r.numel(); ++i) {
    const float v = d(g);
    switch (t) {
      case ovis::DType::F32:
        r.ptr<float>()[i] = v;
        break;
      case ovis::DType::BF16:
        r.ptr<uint16_t>()[i] = ovis::f32_to_bf16(v);
        break;
      case ovis::DType::F16:
        r.ptr<uint16_t>()[i] = ovis::f32_to_f16(v);
        break;
      case ovis::DType::I32:
        r.ptr<int32_t>()[i] = int32_t(v);
        break;
    }
  }
  return r;
}

// Bitwise equality of two tensors' bytes.
inline bool same_bytes(const ovis::Tensor& a, const ovis::Tensor& b) {
  if (a.shape != b.shape || a.dtype != b.dtype) return false;
  const auto* pa = static_cast<const unsigned char*>(a.data);
  const auto* pb = static_cast<const unsigned char*>(b.data);
  for (size_t i = 0; i < a.nbytes(); ++i)
    if (pa[i] != pb[i]) return false;
  return true;
}

}  // namespace ovis_test
