// Reference loops of the op table (see reference.h).
#include "reference.h"

#include <cmath>
#include <limits>

namespace ovis::optable::ref {

namespace {
double at(const Tensor& t, int64_t i) {
  switch (t.dtype) {
    case DType::F32:
      return t.ptr<float>()[i];
    case DType::BF16:
      return bf16_to_f32(t.ptr<uint16_t>()[i]);
    case DType::F16:
      return f16_to_f32(t.ptr<uint16_t>()[i]);
    case DType::I32:
      return t.ptr<int32_t>()[i];
  }
  return 0;
}
double silu1(double v) { return v / (1.0 + std::exp(-v)); }
int64_t rows_of(const Tensor& t) { return t.shape[-1] > 0 ? t.numel() / t.shape[-1] : 0; }
}  // namespace

Vec values(const Tensor& t) {
  Vec r(size_t(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) r[size_t(i)] = at(t, i);
  return r;
}

Vec linear(const Tensor& x, const Tensor& w, const Tensor* bias) {
  const int64_t K = x.shape[-1], N = w.shape[0], M = rows_of(x);
  Vec y(size_t(M * N));
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double s = bias ? at(*bias, n) : 0.0;
      for (int64_t k = 0; k < K; ++k) s += at(x, m * K + k) * at(w, n * K + k);
      y[size_t(m * N + n)] = s;
    }
  return y;
}

Vec embedding(const Tensor& table, const Tensor& ids) {
  const int64_t H = table.shape[1];
  Vec y;
  for (int64_t i = 0; i < ids.numel(); ++i)
    for (int64_t h = 0; h < H; ++h) y.push_back(at(table, int64_t(at(ids, i)) * H + h));
  return y;
}

Vec silu(const Tensor& x) {
  Vec y = values(x);
  for (double& v : y) v = silu1(v);
  return y;
}

Vec swiglu(const Tensor& x) {
  const int64_t F = x.shape[-1] / 2, R = rows_of(x);
  Vec y(size_t(R * F));
  for (int64_t r = 0; r < R; ++r)
    for (int64_t f = 0; f < F; ++f) y[size_t(r * F + f)] = at(x, r * 2 * F + f) * silu1(at(x, r * 2 * F + F + f));
  return y;
}

Vec axpby(const Tensor& x, double alpha, const Tensor& y, double beta) {
  Vec r(size_t(x.numel()));
  for (int64_t i = 0; i < x.numel(); ++i) r[size_t(i)] = at(x, i) * alpha + at(y, i) * beta;
  return r;
}

Vec gated_add(const Tensor& x, const Tensor& gate, const Tensor& y) {
  const int64_t S = x.shape[1], D = x.shape[2];
  Vec r(size_t(x.numel()));
  for (int64_t i = 0; i < x.numel(); ++i) r[size_t(i)] = at(x, i) + at(gate, (i / (S * D)) * D + i % D) * at(y, i);
  return r;
}

Vec layer_norm_mod(const Tensor& x, const Tensor* shift, const Tensor* scale, double eps) {
  const int64_t D = x.shape[-1], R = rows_of(x), S = (shift || scale) ? x.shape[1] : R;
  Vec y(size_t(x.numel()));
  for (int64_t r = 0; r < R; ++r) {
    double mean = 0, var = 0;
    for (int64_t d = 0; d < D; ++d) mean += at(x, r * D + d) / double(D);
    for (int64_t d = 0; d < D; ++d) var += std::pow(at(x, r * D + d) - mean, 2) / double(D);
    const int64_t b = r / S;
    for (int64_t d = 0; d < D; ++d) {
      double v = (at(x, r * D + d) - mean) / std::sqrt(var + eps);
      if (scale) v *= 1.0 + at(*scale, b * D + d);
      if (shift) v += at(*shift, b * D + d);
      y[size_t(r * D + d)] = v;
    }
  }
  return y;
}

Vec rms_norm(const Tensor& x, const Tensor& w, double eps) {
  const int64_t D = x.shape[-1], R = rows_of(x);
  Vec y(size_t(x.numel()));
  for (int64_t r = 0; r < R; ++r) {
    double ms = 0;
    for (int64_t d = 0; d < D; ++d) ms += at(x, r * D + d) * at(x, r * D + d) / double(D);
    for (int64_t d = 0; d < D; ++d) y[size_t(r * D + d)] = at(x, r * D + d) / std::sqrt(ms + eps) * at(w, d);
  }
  return y;
}

Vec group_norm(const Tensor& x, const Tensor& w, const Tensor& b, int groups, double eps, bool silu) {
  const int64_t B = x.shape[0], C = x.shape[1], HW = x.shape[2] * x.shape[3], cpg = C / groups, n = cpg * HW;
  Vec y(size_t(x.numel()));
  for (int64_t bg = 0; bg < B * groups; ++bg) {
    const int64_t base = bg * n;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < n; ++i) mean += at(x, base + i) / double(n);
    for (int64_t i = 0; i < n; ++i) var += std::pow(at(x, base + i) - mean, 2) / double(n);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t c = (bg % groups) * cpg + i / HW;
      const double v = (at(x, base + i) - mean) / std::sqrt(var + eps) * at(w, c) + at(b, c);
      y[size_t(base + i)] = silu ? silu1(v) : v;
    }
  }
  return y;
}

Vec rope(const Tensor& x, const Tensor& cos, const Tensor& sin, bool interleaved) {
  const int64_t S = x.shape[1], H = x.shape[2], hd = x.shape[3], half = hd / 2;
  Vec y = values(x);
  for (int64_t row = 0; row < x.numel() / hd; ++row) {
    const int64_t s = (row / H) % S;
    for (int64_t i = 0; i < half; ++i) {
      const int64_t i0 = row * hd + (interleaved ? 2 * i : i), i1 = row * hd + (interleaved ? 2 * i + 1 : i + half);
      const double c = at(cos, s * half + i), sn = at(sin, s * half + i), a = at(x, i0), b = at(x, i1);
      y[size_t(i0)] = a * c - b * sn;
      y[size_t(i1)] = b * c + a * sn;
    }
  }
  return y;
}

Vec attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale, bool causal, const Tensor* mask) {
  const int64_t B = q.shape[0], Sq = q.shape[1], Hq = q.shape[2], hd = q.shape[3], Sk = k.shape[1], Hkv = k.shape[2];
  Vec out(size_t(q.numel()), 0.0);
  Vec p(static_cast<size_t>(Sk));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < Hq; ++h)
      for (int64_t i = 0; i < Sq; ++i) {
        const int64_t hk = h / (Hq / Hkv);
        double mx = -std::numeric_limits<double>::infinity(), sum = 0;
        for (int64_t j = 0; j < Sk; ++j) {
          const bool visible = !(causal && j > i) && !(mask && at(*mask, b * Sk + j) == 0.0);
          double s = -std::numeric_limits<double>::infinity();
          if (visible) {
            s = 0;
            for (int64_t d = 0; d < hd; ++d)
              s += at(q, ((b * Sq + i) * Hq + h) * hd + d) * at(k, ((b * Sk + j) * Hkv + hk) * hd + d);
            s *= scale;
          }
          p[size_t(j)] = s;
          mx = std::max(mx, s);
        }
        if (std::isinf(mx)) continue;  // every key masked: zeros
        for (int64_t j = 0; j < Sk; ++j) sum += (p[size_t(j)] = std::exp(p[size_t(j)] - mx));
        for (int64_t j = 0; j < Sk; ++j)
          for (int64_t d = 0; d < hd; ++d)
            out[size_t(((b * Sq + i) * Hq + h) * hd + d)] +=
                p[size_t(j)] / sum * at(v, ((b * Sk + j) * Hkv + hk) * hd + d);
      }
  return out;
}

Vec conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, int stride, int pt, int pl, int pb, int pr) {
  const int64_t B = x.shape[0], Ci = x.shape[1], H = x.shape[2], W = x.shape[3], Co = w.shape[0], kh = w.shape[2],
                kw = w.shape[3];
  const int64_t Ho = (H + pt + pb - kh) / stride + 1, Wo = (W + pl + pr - kw) / stride + 1;
  Vec y(size_t(B * Co * Ho * Wo));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t co = 0; co < Co; ++co)
      for (int64_t oy = 0; oy < Ho; ++oy)
        for (int64_t ox = 0; ox < Wo; ++ox) {
          double s = bias ? at(*bias, co) : 0.0;
          for (int64_t ci = 0; ci < Ci; ++ci)
            for (int64_t ky = 0; ky < kh; ++ky)
              for (int64_t kx = 0; kx < kw; ++kx) {
                const int64_t iy = oy * stride - pt + ky, ix = ox * stride - pl + kx;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                s += at(x, ((b * Ci + ci) * H + iy) * W + ix) * at(w, ((co * Ci + ci) * kh + ky) * kw + kx);
              }
          y[size_t(((b * Co + co) * Ho + oy) * Wo + ox)] = s;
        }
  return y;
}

Vec upsample2x(const Tensor& x) {
  const int64_t P = x.shape[0] * x.shape[1], H = x.shape[2], W = x.shape[3];
  Vec y(size_t(P * 4 * H * W));
  for (int64_t p = 0; p < P; ++p)
    for (int64_t i = 0; i < 2 * H; ++i)
      for (int64_t j = 0; j < 2 * W; ++j) y[size_t((p * 2 * H + i) * 2 * W + j)] = at(x, (p * H + i / 2) * W + j / 2);
  return y;
}

Vec concat(const Tensor& a, const Tensor& b, int axis) {
  int64_t outer = 1, ia = 1, ib = 1;
  for (int i = 0; i < axis; ++i) outer *= a.shape[i];
  for (int i = axis; i < a.shape.rank; ++i) ia *= a.shape[i], ib *= b.shape[i];
  Vec y;
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < ia; ++i) y.push_back(at(a, o * ia + i));
    for (int64_t i = 0; i < ib; ++i) y.push_back(at(b, o * ib + i));
  }
  return y;
}

Vec slice(const Tensor& x, int axis, int64_t start, int64_t len) {
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= x.shape[i];
  for (int i = axis + 1; i < x.shape.rank; ++i) inner *= x.shape[i];
  Vec y;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = start * inner; i < (start + len) * inner; ++i) y.push_back(at(x, o * x.shape[axis] * inner + i));
  return y;
}

Vec transpose_last2(const Tensor& x) {
  const int64_t M = x.shape[-2], N = x.shape[-1], B = x.numel() / (M * N);
  Vec y(size_t(x.numel()));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) y[size_t((b * N + j) * M + i)] = at(x, (b * M + i) * N + j);
  return y;
}

}  // namespace ovis::optable::ref
