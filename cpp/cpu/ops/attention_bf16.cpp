// attention with bf16 products (precision 'bf16' on AVX512-BF16 CPUs): the blockwise softmax of
// attention.cpp (attention_softmax.h), but Q K^T and P V run the 12x32 vdpbf16ps micro-kernel of gemm_bf16 on bf16 pair
// panels (f32 accumulation). Scores, the running max/sum and the output accumulator stay f32.
#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "cpu/gemm/gemm_bf16.h"
#include "cpu/ops/attention_softmax.h"
#include "cpu/ops/common.h"
#include "cpu/ops/ops.h"
#include "cpu/thread_pool.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

namespace ovis::cpu {

namespace {
constexpr int64_t kQB = 8 * kMRb;  // query rows per task (96)
constexpr int64_t kKB = 4 * kNRb;  // keys per score tile (128)

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

uint32_t pair_bits(float lo, float hi) {
  return uint32_t(f32_to_bf16_bits(lo)) | (uint32_t(f32_to_bf16_bits(hi)) << 16);
}

// K and V of every (batch, KV head) as bf16 pair panels, packed once.
// K (B operand of S = Q K^T): panel p = keys [32p, 32p+32) as [d pair][32].
// V (B operand of O = P V): panel dp = dims [32dp, 32dp+32) as [key pair][32].
struct PackedKV16 {
  int64_t Sk32, hd2, hd32, dpanels;
  size_t k_stride, v_stride;
  std::vector<uint32_t> k, v;
  PackedKV16(int64_t heads, int64_t Sk, int64_t hd)
      : Sk32(round_up(Sk, kNRb)),
        hd2((hd + 1) / 2),
        hd32(round_up(hd, kNRb)),
        dpanels(hd32 / kNRb),
        k_stride(size_t(Sk32 * hd2)),
        v_stride(size_t(dpanels * (Sk32 / 2) * kNRb)),
        k(size_t(heads) * k_stride, 0u),
        v(size_t(heads) * v_stride, 0u) {}
};

void pack_kv(ThreadPool& pool, const Tensor& k, const Tensor& v, PackedKV16& kv) {
  const int64_t B = k.shape[0], Sk = k.shape[1], Hkv = k.shape[2], hd = k.shape[3];
  pool.parallel_for(B * Hkv, [&](int64_t bh) {
    const int64_t b = bh / Hkv, h = bh % Hkv;
    uint32_t* kdst = kv.k.data() + size_t(bh) * kv.k_stride;
    uint32_t* vdst = kv.v.data() + size_t(bh) * kv.v_stride;
    std::vector<float> row(size_t(kv.hd2 * 2), 0.f), row2(size_t(hd), 0.f);
    for (int64_t s = 0; s < Sk; ++s) {
      load_head_row(k, b, s, h, row.data());
      uint32_t* kp = kdst + (s / kNRb) * kv.hd2 * kNRb + s % kNRb;
      for (int64_t dd = 0; dd < kv.hd2; ++dd) kp[dd * kNRb] = pair_bits(row[size_t(2 * dd)], row[size_t(2 * dd + 1)]);
    }
    for (int64_t s = 0; s < Sk; s += 2) {  // V pairs run along keys: rows s and s + 1 together
      load_head_row(v, b, s, h, row.data());
      if (s + 1 < Sk)
        load_head_row(v, b, s + 1, h, row2.data());
      else
        std::fill(row2.begin(), row2.end(), 0.f);
      for (int64_t d = 0; d < hd; ++d)
        vdst[(d / kNRb) * (kv.Sk32 / 2) * kNRb + (s / 2) * kNRb + d % kNRb] =
            pair_bits(row[size_t(d)], row2[size_t(d)]);
    }
  });
}

struct Job {
  const Tensor& q;
  const PackedKV16& kv;
  int64_t Sq, Hq, hd, Sk, group;
  float scale;
  ScoreMask mask;  // key padding and causality
  float* out;
};

struct Scratch16 {
  uint32_t* qpk;  // packed Q (scaled): [panel][d pair][12]
  uint32_t* ppk;  // packed P: [panel][key pair][12]
  float* st;      // scores [kQB][kKB]
  float* o;       // output accumulator [kQB][hd32]
  float* rmax;
  float* rsum;
};

Scratch16 scratch(const PackedKV16& kv) {
  thread_local std::vector<uint32_t> words;
  thread_local std::vector<float> floats;
  const size_t nw = size_t(kQB * kv.hd2 + kQB * kKB / 2), nf = size_t(kQB * kKB + kQB * kv.hd32 + 2 * kQB);
  if (words.size() < nw) words.assign(nw, 0u);
  if (floats.size() < nf) floats.assign(nf, 0.f);
  Scratch16 s;
  s.qpk = words.data();
  s.ppk = s.qpk + kQB * kv.hd2;
  s.st = floats.data();
  s.o = s.st + kQB * kKB;
  s.rmax = s.o + kQB * kv.hd32;
  s.rsum = s.rmax + kQB;
  return s;
}

void start_block(const Job& j, const Scratch16& s, int64_t b, int64_t h, int64_t q0, int64_t qn) {
  std::vector<float> row(size_t(j.kv.hd2 * 2), 0.f);
  std::memset(s.qpk, 0, sizeof(uint32_t) * size_t(kQB * j.kv.hd2));
  for (int64_t r = 0; r < qn; ++r) {
    load_head_row(j.q, b, q0 + r, h, row.data());
    uint32_t* dst = s.qpk + (r / kMRb) * j.kv.hd2 * kMRb + r % kMRb;
    for (int64_t dd = 0; dd < j.kv.hd2; ++dd)
      dst[dd * kMRb] = pair_bits(row[size_t(2 * dd)] * j.scale, row[size_t(2 * dd + 1)] * j.scale);
  }
  std::memset(s.o, 0, sizeof(float) * size_t(kQB * j.kv.hd32));
  const float neg_inf = -std::numeric_limits<float>::infinity();
  for (int64_t r = 0; r < kQB; ++r) s.rmax[r] = neg_inf, s.rsum[r] = 0.f;
}

// P row (kpad probabilities, kpad a multiple of 32) as bf16 pairs at dst[kk * kMRb].
__attribute__((target("avx512f,avx512bw,avx512bf16"))) void round_p_row(const float* src, int64_t kpad, uint32_t* dst) {
  alignas(64) uint32_t tmp[16];
  for (int64_t c = 0; c < kpad; c += 32) {
    const __m512 a = _mm512_loadu_ps(src + c), b = _mm512_loadu_ps(src + c + 16);
    _mm512_store_si512(tmp, (__m512i)_mm512_cvtne2ps_pbh(b, a));
    uint32_t* d = dst + (c / 2) * kMRb;
    for (int i = 0; i < 16; ++i) d[i * kMRb] = tmp[i];
  }
}

void run_tile(int64_t kc2, const uint32_t* a, const uint32_t* b, float* c, int64_t ldc, bool accumulate) {
  micro_kernel_bf16_avx512(kc2, a, b, c, ldc, accumulate);
}

void attend_key_tile(const Job& j, const Scratch16& s, const uint32_t* kbase, const uint32_t* vbase, int64_t b,
                     int64_t q0, int64_t qpanels, int64_t k0) {
  const PackedKV16& kv = j.kv;
  const int64_t kn = std::min(kKB, j.Sk - k0), kpad = round_up(kn, kNRb);
  for (int64_t p = 0; p < kpad / kNRb; ++p)
    for (int64_t qp = 0; qp < qpanels; ++qp)
      run_tile(kv.hd2, s.qpk + qp * kv.hd2 * kMRb, kbase + (k0 / kNRb + p) * kv.hd2 * kNRb,
               s.st + qp * kMRb * kKB + p * kNRb, kKB, false);
  for (int64_t r = 0; r < qpanels * kMRb; ++r)
    online_softmax_row(j.mask, b, q0 + r, k0, kn, kpad, s.st + r * kKB,
                       {s.rmax[r], s.rsum[r], s.o + r * kv.hd32, kv.hd32});
  for (int64_t qp = 0; qp < qpanels; ++qp)
    for (int r = 0; r < kMRb; ++r) round_p_row(s.st + (qp * kMRb + r) * kKB, kpad, s.ppk + qp * (kpad / 2) * kMRb + r);
  for (int64_t dp = 0; dp < kv.dpanels; ++dp)
    for (int64_t qp = 0; qp < qpanels; ++qp)
      run_tile(kpad / 2, s.ppk + qp * (kpad / 2) * kMRb, vbase + dp * (kv.Sk32 / 2) * kNRb + (k0 / 2) * kNRb,
               s.o + qp * kMRb * kv.hd32 + dp * kNRb, kv.hd32, true);
}

void finish_block(const Job& j, const Scratch16& s, int64_t b, int64_t h, int64_t q0, int64_t qn) {
  for (int64_t r = 0; r < qn; ++r)
    write_normalized_row(s.o + r * j.kv.hd32, s.rsum[r], j.hd, j.out + ((b * j.Sq + q0 + r) * j.Hq + h) * j.hd);
}

void attend_query_block(const Job& j, int64_t b, int64_t h, int64_t q0) {
  const int64_t qn = std::min(kQB, j.Sq - q0);
  const int64_t kvh = b * (j.Hq / j.group) + h / j.group;
  const uint32_t* kbase = j.kv.k.data() + size_t(kvh) * j.kv.k_stride;
  const uint32_t* vbase = j.kv.v.data() + size_t(kvh) * j.kv.v_stride;
  const Scratch16 s = scratch(j.kv);
  start_block(j, s, b, h, q0, qn);
  const int64_t qpanels = (qn + kMRb - 1) / kMRb;
  const int64_t k_end = j.mask.causal ? std::min(j.Sk, q0 + qn) : j.Sk;
  for (int64_t k0 = 0; k0 < k_end; k0 += kKB) attend_key_tile(j, s, kbase, vbase, b, q0, qpanels, k0);
  finish_block(j, s, b, h, q0, qn);
}
}  // namespace

Tensor op_attention_bf16(ThreadPool& pool, const Tensor& q, const Tensor& k, const Tensor& v, float scale, bool causal,
                         const Tensor* key_mask) {
  if (!gemm_bf16_available()) return op_attention(pool, q, k, v, scale, causal, key_mask);
  const int64_t B = q.shape[0], Sq = q.shape[1], Hq = q.shape[2], hd = q.shape[3];
  const int64_t Sk = k.shape[1], Hkv = k.shape[2];
  const float* mask = key_mask ? key_mask->ptr<float>() : nullptr;
  Tensor out = new_tensor(q.shape);
  if (out.numel() == 0) return out;
  if (Sk == 0) {
    std::memset(out.data, 0, out.nbytes());
    return out;
  }
  PackedKV16 kv(B * Hkv, Sk, hd);
  pack_kv(pool, k, v, kv);
  const Job job{q, kv, Sq, Hq, hd, Sk, Hq / Hkv, scale, {mask, Sk, causal}, out.ptr<float>()};
  const int64_t nqb = (Sq + kQB - 1) / kQB;
  pool.parallel_for(B * Hq * nqb, [&](int64_t task) {
    const int64_t qb = task % nqb, h = (task / nqb) % Hq, b = task / (nqb * Hq);
    attend_query_block(job, b, h, qb * kQB);
  });
  return out;
}

}  // namespace ovis::cpu

#else
namespace ovis::cpu {
Tensor op_attention_bf16(ThreadPool& pool, const Tensor& q, const Tensor& k, const Tensor& v, float scale, bool causal,
                         const Tensor* key_mask) {
  return op_attention(pool, q, k, v, scale, causal, key_mask);
}
}  // namespace ovis::cpu
#endif
