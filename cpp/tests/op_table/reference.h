// Plain reference loops (double precision) for the op table: the definitions in core/backend.h,
// written as directly as possible and independently of the backends' code.
#pragma once
#include <vector>

#include "core/tensor.h"

namespace ovis::optable::ref {

using Vec = std::vector<double>;
Vec values(const Tensor& t);  // every element as double

Vec linear(const Tensor& x, const Tensor& w, const Tensor* bias);
Vec embedding(const Tensor& table, const Tensor& ids);
Vec silu(const Tensor& x);
Vec swiglu(const Tensor& x);
Vec axpby(const Tensor& x, double alpha, const Tensor& y, double beta);
Vec gated_add(const Tensor& x, const Tensor& gate, const Tensor& y);
Vec layer_norm_mod(const Tensor& x, const Tensor* shift, const Tensor* scale, double eps);
Vec rms_norm(const Tensor& x, const Tensor& w, double eps);
Vec group_norm(const Tensor& x, const Tensor& w, const Tensor& b, int groups, double eps, bool silu);
Vec rope(const Tensor& x, const Tensor& cos, const Tensor& sin, bool interleaved);
Vec attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale, bool causal, const Tensor* mask);
Vec conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, int stride, int pt, int pl, int pb, int pr);
Vec upsample2x(const Tensor& x);
Vec concat(const Tensor& a, const Tensor& b, int axis);
Vec slice(const Tensor& x, int axis, int64_t start, int64_t len);
Vec transpose_last2(const Tensor& x);

}  // namespace ovis::optable::ref
