// Vectorised row math: AVX2+FMA versions (compiled with target attributes, used only when the CPU has
// them) next to portable versions that give the same results within rounding.
#include "cpu/simd/vmath.h"

#include <cmath>

#include "cpu/simd/cpu_features.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define OVIS_X86 1
#include <immintrin.h>
#endif

namespace ovis::cpu {

// ---- portable ---------------------------------------------------------------------------------
static float exp_shifted_sum_portable(float* x, int64_t n, float m) {
  float s = 0.f;
  for (int64_t i = 0; i < n; ++i) {
    float e = std::exp(x[i] - m);
    x[i] = e;
    s += e;
  }
  return s;
}

static float row_max_portable(const float* x, int64_t n) {
  float m = -INFINITY;
  bool nan = false;
  for (int64_t i = 0; i < n; ++i) {
    m = x[i] > m ? x[i] : m;
    nan |= x[i] != x[i];
  }
  return nan ? NAN : m;
}

static void silu_portable(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] / (1.f + std::exp(-x[i]));
}

static void swiglu_portable(const float* up, const float* gate, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = up[i] * (gate[i] / (1.f + std::exp(-gate[i])));
}

#ifdef OVIS_X86
// ---- AVX2 + FMA ---------------------------------------------------------------------------------
// exp via range reduction x = n ln2 + r and a degree-6 polynomial (Cephes coefficients), ~1 ulp.
__attribute__((target("avx2,fma"))) static inline __m256 exp8(__m256 x) {
  const __m256 hi = _mm256_set1_ps(88.0f), lo = _mm256_set1_ps(-87.3f);
  // max/min return their second operand when one is NaN: keep x second so NaN flows through.
  __m256 xc = _mm256_min_ps(hi, _mm256_max_ps(lo, x));
  __m256 fx = _mm256_fmadd_ps(xc, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f));
  fx = _mm256_floor_ps(fx);
  __m256 r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500E-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507E-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073E-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894E-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459E-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201E-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.f)));
  __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(fx), _mm256_set1_epi32(127)), 23);
  __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
  y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(x, lo, _CMP_LT_OQ));
  y = _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x, _mm256_set1_ps(88.72f), _CMP_GT_OQ));
  return y;
}

__attribute__((target("avx2,fma"))) static inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) static float exp_shifted_sum_avx2(float* x, int64_t n, float m) {
  __m256 vm = _mm256_set1_ps(m), acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
    _mm256_storeu_ps(x + i, e);
    acc = _mm256_add_ps(acc, e);
  }
  float s = hsum8(acc);
  if (i < n) {
    alignas(32) float t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t j = i; j < n; ++j) t[j - i] = x[j] - m;
    __m256 e = exp8(_mm256_load_ps(t));
    _mm256_store_ps(t, e);
    for (int64_t j = i; j < n; ++j) {
      x[j] = t[j - i];
      s += t[j - i];
    }
  }
  return s;
}

__attribute__((target("avx2,fma"))) static float row_max_avx2(const float* x, int64_t n) {
  __m256 m = _mm256_set1_ps(-INFINITY), nan = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    m = _mm256_max_ps(m, v);
    nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  }
  alignas(32) float t[8];
  _mm256_store_ps(t, m);
  float r = t[0];
  for (int j = 1; j < 8; ++j) r = t[j] > r ? t[j] : r;
  bool has_nan = _mm256_movemask_ps(nan) != 0;
  for (; i < n; ++i) {
    r = x[i] > r ? x[i] : r;
    has_nan |= x[i] != x[i];
  }
  return has_nan ? NAN : r;
}

__attribute__((target("avx2,fma"))) static inline __m256 silu8(__m256 x) {
  __m256 one = _mm256_set1_ps(1.f);
  __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), x));
  return _mm256_div_ps(x, _mm256_add_ps(one, e));
}

__attribute__((target("avx2,fma"))) static void silu_avx2(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, silu8(_mm256_loadu_ps(x + i)));
  if (i < n) {
    alignas(32) float t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t j = i; j < n; ++j) t[j - i] = x[j];
    _mm256_store_ps(t, silu8(_mm256_load_ps(t)));
    for (int64_t j = i; j < n; ++j) y[j] = t[j - i];
  }
}

__attribute__((target("avx2,fma"))) static void swiglu_avx2(const float* up, const float* gate, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(up + i), silu8(_mm256_loadu_ps(gate + i))));
  if (i < n) {
    alignas(32) float t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t j = i; j < n; ++j) t[j - i] = gate[j];
    _mm256_store_ps(t, silu8(_mm256_load_ps(t)));
    for (int64_t j = i; j < n; ++j) y[j] = up[j] * t[j - i];
  }
}
#endif

float exp_shifted_sum(float* x, int64_t n, float m) {
#ifdef OVIS_X86
  if (use_avx2()) return exp_shifted_sum_avx2(x, n, m);
#endif
  return exp_shifted_sum_portable(x, n, m);
}

float row_max(const float* x, int64_t n) {
#ifdef OVIS_X86
  if (use_avx2()) return row_max_avx2(x, n);
#endif
  return row_max_portable(x, n);
}

void silu_row(const float* x, float* y, int64_t n) {
#ifdef OVIS_X86
  if (use_avx2()) return silu_avx2(x, y, n);
#endif
  silu_portable(x, y, n);
}

void swiglu_row(const float* up, const float* gate, float* y, int64_t n) {
#ifdef OVIS_X86
  if (use_avx2()) return swiglu_avx2(up, gate, y, n);
#endif
  swiglu_portable(up, gate, y, n);
}

void axpby_row(float* y, float a, const float* x, float b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = y[i] * a + x[i] * b;
}

// Eight independent float accumulators over blocks of 512 (vectorisable, short dependency chains),
// each block's total added into a double so long rows keep their precision.
double sum_row(const float* x, int64_t n) {
  double total = 0.0;
  for (int64_t b = 0; b < n; b += 512) {
    int64_t e = b + 512 < n ? b + 512 : n;
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = b;
    for (; i + 8 <= e; i += 8)
      for (int j = 0; j < 8; ++j) acc[j] += x[i + j];
    for (; i < e; ++i) acc[0] += x[i];
    total += double((acc[0] + acc[1]) + (acc[2] + acc[3])) + double((acc[4] + acc[5]) + (acc[6] + acc[7]));
  }
  return total;
}

double sum_sq_dev_row(const float* x, int64_t n, double mean) {
  const float mf = float(mean);
  double total = 0.0;
  for (int64_t b = 0; b < n; b += 512) {
    int64_t e = b + 512 < n ? b + 512 : n;
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = b;
    for (; i + 8 <= e; i += 8)
      for (int j = 0; j < 8; ++j) {
        float d = x[i + j] - mf;
        acc[j] += d * d;
      }
    for (; i < e; ++i) {
      float d = x[i] - mf;
      acc[0] += d * d;
    }
    total += double((acc[0] + acc[1]) + (acc[2] + acc[3])) + double((acc[4] + acc[5]) + (acc[6] + acc[7]));
  }
  return total;
}

// Sum of x[i] - shift over a short row (eight float lanes; exact differences when shift is near x).
static double sum_dev_row(const float* x, int64_t n, float shift) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += x[i + j] - shift;
  for (; i < n; ++i) acc[0] += x[i] - shift;
  return double((acc[0] + acc[1]) + (acc[2] + acc[3])) + double((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

void mean_var_row(const float* x, int64_t n, double* mean, double* var) {
  // Chunks of 512 are read twice while in L1 (mean, then squared deviations from the chunk's own mean);
  // chunk results merge exactly in double (Chan et al.), so memory is read once and no large mean is
  // ever subtracted from a sum of squares.
  double count = 0.0, m = 0.0, m2 = 0.0;
  for (int64_t b = 0; b < n; b += 512) {
    const int64_t len = b + 512 < n ? 512 : n - b;
    // Summing differences from the chunk's first value keeps the float lanes small whatever the mean.
    const double cm = double(x[b]) + sum_dev_row(x + b, len, x[b]) / double(len);
    const double cm2 = sum_sq_dev_row(x + b, len, cm);
    const double total = count + double(len), delta = cm - m;
    m += delta * (double(len) / total);
    m2 += cm2 + delta * delta * (count * double(len) / total);
    count = total;
  }
  *mean = m;
  *var = n > 0 ? m2 / double(n) : 0.0;
}

}  // namespace ovis::cpu
