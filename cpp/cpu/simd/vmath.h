// Vectorised row math shared by the ops: exp for softmax, SiLU, SwiGLU, fast row sums.
// Each dispatches at run time between an AVX2+FMA version and a portable one.
#pragma once
#include <cstdint>

namespace ovis::cpu {

// x[i] = exp(x[i] - m) (exp(-inf) = 0, NaN stays NaN); returns the sum of the new x.
float exp_shifted_sum(float* x, int64_t n, float m);
// Maximum of x[0..n) (-inf when n = 0); NaN when any element is NaN.
float row_max(const float* x, int64_t n);
// y[i] = x[i] * sigmoid(x[i]) (y may alias x).
void silu_row(const float* x, float* y, int64_t n);
// y[i] = up[i] * silu(gate[i]).
void swiglu_row(const float* up, const float* gate, float* y, int64_t n);
// y[i] = y[i] * a + x[i] * b
void axpby_row(float* y, float a, const float* x, float b, int64_t n);
// Sum and sum of squared deviations from `mean`, accumulated in double across float blocks.
double sum_row(const float* x, int64_t n);
double sum_sq_dev_row(const float* x, int64_t n, double mean);
// Mean and (biased) variance of x[0..n) from one sweep over memory, stable for any mean.
void mean_var_row(const float* x, int64_t n, double* mean, double* var);

}  // namespace ovis::cpu
