// attention: blockwise ("flash") softmax(q k^T * scale) v in f32 with causal and key-padding masks
// and grouped KV heads. K and V are packed once into the GEMM micro-kernel's B layout; each task
// takes one (batch, head, query block), keeps running row max/sum, and never holds more than a
// [QB x KB] score tile. Scores are written straight into the packed-A layout for the P·V product.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "cpu/gemm/gemm.h"
#include "cpu/ops/common.h"
#include "cpu/ops/ops.h"
#include "cpu/simd/vmath.h"
#include "cpu/thread_pool.h"

namespace ovis::cpu {

namespace {
constexpr int64_t kQB = 96;   // query rows per task (a multiple of kMR)
constexpr int64_t kKB = 128;  // keys per score tile (a multiple of kNR)
static_assert(kQB % kMR == 0 && kKB % kNR == 0, "attention tiles must match the micro-kernel");

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

struct AlignedFloats {
  float* p = nullptr;
  explicit AlignedFloats(size_t n) {
    p = static_cast<float*>(std::aligned_alloc(64, std::max<size_t>(64, (n * 4 + 63) / 64 * 64)));
    if (!p) fail("OVIS_OUT_OF_MEMORY", "attention: scratch allocation failed");
  }
  ~AlignedFloats() { std::free(p); }
  AlignedFloats(const AlignedFloats&) = delete;
  AlignedFloats& operator=(const AlignedFloats&) = delete;
};

// Row `row` of head `h` as f32 (q/k/v may be any float dtype).
void load_row(const Tensor& t, int64_t b, int64_t s, int64_t h, float* dst) {
  const int64_t S = t.shape[1], H = t.shape[2], hd = t.shape[3];
  const size_t off = size_t(((b * S + s) * H + h) * hd);
  convert_to_f32(static_cast<const char*>(t.data) + off * dtype_size(t.dtype), t.dtype, dst, size_t(hd));
}
}  // namespace

Tensor op_attention(ThreadPool& pool, const Tensor& q, const Tensor& k, const Tensor& v, float scale, bool causal,
                    const Tensor* key_mask) {
  const int64_t B = q.shape[0], Sq = q.shape[1], Hq = q.shape[2], hd = q.shape[3];
  const int64_t Sk = k.shape[1], Hkv = k.shape[2];
  const float* mask = key_mask ? key_mask->ptr<float>() : nullptr;  // f32 (CpuBackend converts)
  Tensor out = new_tensor(q.shape);
  if (out.numel() == 0) return out;
  if (Sk == 0) {
    std::memset(out.data, 0, out.nbytes());
    return out;
  }

  const MicroKernel kern = micro_kernel();
  const int64_t Sk16 = round_up(Sk, kNR), hd16 = round_up(hd, kNR);
  const int64_t dpanels = hd16 / kNR;
  // K as B operand of S = Q K^T: panel p holds keys [16p, 16p+16) as [d][16].
  // V as B operand of O = P V: panel dp holds dims [16dp, 16dp+16) as [key][16].
  const size_t kv_stride = size_t(Sk16 * hd);
  const size_t vv_stride = size_t(dpanels * Sk16 * kNR);
  AlignedFloats kp(size_t(B * Hkv) * kv_stride), vp(size_t(B * Hkv) * vv_stride);
  pool.parallel_for(B * Hkv, [&](int64_t bh) {
    const int64_t b = bh / Hkv, h = bh % Hkv;
    float* kdst = kp.p + size_t(bh) * kv_stride;
    float* vdst = vp.p + size_t(bh) * vv_stride;
    std::memset(kdst, 0, kv_stride * 4);
    std::memset(vdst, 0, vv_stride * 4);
    std::vector<float> row(static_cast<size_t>(hd));
    for (int64_t s = 0; s < Sk; ++s) {
      load_row(k, b, s, h, row.data());
      float* kpanel = kdst + (s / kNR) * hd * kNR + s % kNR;
      for (int64_t d = 0; d < hd; ++d) kpanel[d * kNR] = row[size_t(d)];
      load_row(v, b, s, h, row.data());
      for (int64_t d = 0; d < hd; ++d) vdst[(d / kNR) * Sk16 * kNR + s * kNR + d % kNR] = row[size_t(d)];
    }
  });

  const int64_t nqb = (Sq + kQB - 1) / kQB, group = Hq / Hkv;
  const float neg_inf = -std::numeric_limits<float>::infinity();
  pool.parallel_for(B * Hq * nqb, [&](int64_t task) {
    const int64_t qb = task % nqb, h = (task / nqb) % Hq, b = task / (nqb * Hq);
    const int64_t q0 = qb * kQB, qn = std::min(kQB, Sq - q0);
    const float* kbase = kp.p + size_t(b * Hkv + h / group) * kv_stride;
    const float* vbase = vp.p + size_t(b * Hkv + h / group) * vv_stride;
    thread_local std::vector<float> scratch;
    const size_t need = size_t(kQB * hd + 2 * kQB * kKB + kQB * hd16 + 2 * kQB) + 64;
    if (scratch.size() < need) scratch.assign(need, 0.f);
    float* qpk = scratch.data();  // packed Q (scaled): [panel][d][6]
    float* st = qpk + kQB * hd;   // scores [kQB][kKB]
    float* ppk = st + kQB * kKB;  // packed P: [panel][key][6]
    float* o = ppk + kQB * kKB;   // output accumulator [kQB][hd16]
    float* rmax = o + kQB * hd16;
    float* rsum = rmax + kQB;
    std::vector<float> row(static_cast<size_t>(hd));
    std::memset(qpk, 0, sizeof(float) * size_t(kQB * hd));
    for (int64_t r = 0; r < qn; ++r) {
      load_row(q, b, q0 + r, h, row.data());
      float* dst = qpk + (r / kMR) * hd * kMR + r % kMR;
      for (int64_t d = 0; d < hd; ++d) dst[d * kMR] = row[size_t(d)] * scale;
    }
    std::memset(o, 0, sizeof(float) * size_t(kQB * hd16));
    for (int64_t r = 0; r < kQB; ++r) rmax[r] = neg_inf, rsum[r] = 0.f;
    const int64_t qpanels = (qn + kMR - 1) / kMR, rows = qpanels * kMR;
    const int64_t k_end = causal ? std::min(Sk, q0 + qn) : Sk;  // keys past the last query are all masked

    for (int64_t k0 = 0; k0 < k_end; k0 += kKB) {
      const int64_t kn = std::min(kKB, Sk - k0), kn16 = round_up(kn, kNR);
      for (int64_t p = 0; p < kn16 / kNR; ++p)
        for (int64_t qp = 0; qp < qpanels; ++qp)
          kern(hd, qpk + qp * hd * kMR, kbase + (k0 / kNR + p) * hd * kNR, st + qp * kMR * kKB + p * kNR, kKB, false);
      for (int64_t r = 0; r < rows; ++r) {
        float* srow = st + r * kKB;
        const int64_t i = q0 + r;
        for (int64_t j = kn; j < kn16; ++j) srow[j] = neg_inf;
        if (mask)
          for (int64_t j = 0; j < kn; ++j)
            if (mask[b * Sk + k0 + j] == 0.f) srow[j] = neg_inf;
        if (causal)
          for (int64_t j = std::max<int64_t>(0, i + 1 - k0); j < kn; ++j) srow[j] = neg_inf;
        const float bm = row_max(srow, kn16);  // NaN if any score is NaN: it must poison the row
        const float m_new = std::isnan(bm) ? bm : std::max(rmax[r], bm);
        if (m_new == neg_inf) {  // nothing visible yet in this row
          std::memset(srow, 0, sizeof(float) * size_t(kn16));
          continue;
        }
        const float alpha = rmax[r] == neg_inf ? 0.f : std::exp(rmax[r] - m_new);
        const float sum = exp_shifted_sum(srow, kn16, m_new);
        rsum[r] = rsum[r] * alpha + sum;
        rmax[r] = m_new;
        if (alpha != 1.f) {
          float* orow = o + r * hd16;
          for (int64_t d = 0; d < hd16; ++d) orow[d] *= alpha;
        }
      }
      for (int64_t qp = 0; qp < qpanels; ++qp) {
        float* dst = ppk + qp * kn16 * kMR;
        const float* src = st + qp * kMR * kKB;
        for (int64_t j = 0; j < kn16; ++j)
          for (int r = 0; r < kMR; ++r) dst[j * kMR + r] = src[r * kKB + j];
      }
      for (int64_t dp = 0; dp < dpanels; ++dp)
        for (int64_t qp = 0; qp < qpanels; ++qp)
          kern(kn16, ppk + qp * kn16 * kMR, vbase + dp * Sk16 * kNR + k0 * kNR, o + qp * kMR * hd16 + dp * kNR, hd16,
               true);
    }
    for (int64_t r = 0; r < qn; ++r) {
      float* dst = out.ptr<float>() + ((b * Sq + q0 + r) * Hq + h) * hd;
      const float* orow = o + r * hd16;
      if (rsum[r] == 0.f) {
        std::memset(dst, 0, sizeof(float) * size_t(hd));
      } else {
        const float inv = 1.f / rsum[r];
        for (int64_t d = 0; d < hd; ++d) dst[d] = orow[d] * inv;
      }
    }
  });
  return out;
}

}  // namespace ovis::cpu
