// attention: blockwise ("flash") softmax(q k^T * scale) v in f32 with causal and key-padding masks
// and grouped KV heads. K and V are packed once into the GEMM micro-kernel's B layout; each task
// takes one (batch, head, query block), keeps running row max/sum, and never holds more than a
// [QB x KB] score tile. Scores are written straight into the packed-A layout for the P·V product.
#include <cstdlib>
#include <cstring>
#include <limits>

#include "cpu/gemm/gemm.h"
#include "cpu/ops/attention_softmax.h"
#include "cpu/ops/common.h"
#include "cpu/ops/ops.h"
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

// K and V of every (batch, KV head), packed once as the micro-kernel's B operand.
// K for S = Q K^T: panel p holds keys [16p, 16p+16) as [d][16].
// V for O = P V, key tile by key tile (kKB keys, the last one kn16 = its keys rounded up to 16): the tile
// of keys [k0, k0+kKB) starts at k0 * hd16 and holds panel dp (dims [16dp, 16dp+16)) as [key][16] at
// dp * kn16 * 16, so a tile's panels are consecutive, as the wide micro-kernel reads its two B panels.
struct PackedKV {
  int64_t Sk16, hd16, dpanels;
  size_t k_stride, v_stride;
  AlignedFloats k, v;
  PackedKV(int64_t heads, int64_t Sk, int64_t hd)
      : Sk16(round_up(Sk, kNR)),
        hd16(round_up(hd, kNR)),
        dpanels(hd16 / kNR),
        k_stride(size_t(Sk16 * hd)),
        v_stride(size_t(dpanels * Sk16 * kNR)),
        k(size_t(heads) * k_stride),
        v(size_t(heads) * v_stride) {}
};

void pack_kv(ThreadPool& pool, const Tensor& k, const Tensor& v, PackedKV& kv) {
  const int64_t B = k.shape[0], Sk = k.shape[1], Hkv = k.shape[2], hd = k.shape[3];
  pool.parallel_for(B * Hkv, [&](int64_t bh) {
    const int64_t b = bh / Hkv, h = bh % Hkv;
    float* kdst = kv.k.p + size_t(bh) * kv.k_stride;
    float* vdst = kv.v.p + size_t(bh) * kv.v_stride;
    std::memset(kdst, 0, kv.k_stride * 4);
    std::memset(vdst, 0, kv.v_stride * 4);
    std::vector<float> row(static_cast<size_t>(hd));
    for (int64_t s = 0; s < Sk; ++s) {
      load_head_row(k, b, s, h, row.data());
      float* kpanel = kdst + (s / kNR) * hd * kNR + s % kNR;
      for (int64_t d = 0; d < hd; ++d) kpanel[d * kNR] = row[size_t(d)];
      load_head_row(v, b, s, h, row.data());
      const int64_t k0 = s / kKB * kKB, kn16 = round_up(std::min(kKB, Sk - k0), kNR);
      float* vtile = vdst + k0 * kv.hd16 + (s - k0) * kNR;
      for (int64_t d = 0; d < hd; ++d) vtile[(d / kNR) * kn16 * kNR + d % kNR] = row[size_t(d)];
    }
  });
}

// What every query-block task shares.
struct AttentionJob {
  const Tensor& q;
  const PackedKV& kv;
  int64_t Sq, Hq, hd, Sk, group;
  float scale;
  ScoreMask mask;  // key padding and causality
  MicroKernel kern;
  MicroKernel wide;  // 12 x 32 tiles (two A and two B panels at once) where AVX-512 allows, else null
  float* out;
};

// c = a · b over qpanels x npanels micro-tiles: A panel i at a + i * kc * kMR, B panel p at b + p * kc * kNR,
// tile (i, p) at c + i * kMR * ldc + p * kNR. Pairs of panels go through the wide kernel, which computes
// each output with the same FMA chain as the 6 x 16 one (same bits).
void tile_products(const AttentionJob& j, int64_t kc, const float* a, int64_t qpanels, const float* b, int64_t npanels,
                   float* c, int64_t ldc, bool accumulate) {
  auto one = [&](int64_t i, int64_t p) {
    j.kern(kc, a + i * kc * kMR, b + p * kc * kNR, c + i * kMR * ldc + p * kNR, ldc, accumulate);
  };
  int64_t i = 0;
  if (j.wide)
    for (; i + 2 <= qpanels; i += 2) {
      int64_t p = 0;
      for (; p + 2 <= npanels; p += 2)
        j.wide(kc, a + i * kc * kMR, b + p * kc * kNR, c + i * kMR * ldc + p * kNR, ldc, accumulate);
      for (; p < npanels; ++p) one(i, p), one(i + 1, p);
    }
  for (; i < qpanels; ++i)
    for (int64_t p = 0; p < npanels; ++p) one(i, p);
}

// One task's working memory (thread-local, reused across tasks).
struct BlockScratch {
  float* qpk;   // packed Q (scaled): [panel][d][6]
  float* st;    // scores [kQB][kKB]
  float* ppk;   // packed P: [panel][key][6]
  float* o;     // output accumulator [kQB][hd16]
  float* rmax;  // running row max
  float* rsum;  // running row sum
};

BlockScratch block_scratch(int64_t hd, int64_t hd16) {
  thread_local std::vector<float> scratch;
  const size_t need = size_t(kQB * hd + 2 * kQB * kKB + kQB * hd16 + 2 * kQB) + 64;
  if (scratch.size() < need) scratch.assign(need, 0.f);
  BlockScratch s;
  s.qpk = scratch.data();
  s.st = s.qpk + kQB * hd;
  s.ppk = s.st + kQB * kKB;
  s.o = s.ppk + kQB * kKB;
  s.rmax = s.o + kQB * hd16;
  s.rsum = s.rmax + kQB;
  return s;
}

// Loads rows [q0, q0+qn) of head h as the A operand, scaled; clears the accumulators.
void start_block(const AttentionJob& j, const BlockScratch& s, int64_t b, int64_t h, int64_t q0, int64_t qn) {
  std::vector<float> row(static_cast<size_t>(j.hd));
  std::memset(s.qpk, 0, sizeof(float) * size_t(kQB * j.hd));
  for (int64_t r = 0; r < qn; ++r) {
    load_head_row(j.q, b, q0 + r, h, row.data());
    float* dst = s.qpk + (r / kMR) * j.hd * kMR + r % kMR;
    for (int64_t d = 0; d < j.hd; ++d) dst[d * kMR] = row[size_t(d)] * j.scale;
  }
  std::memset(s.o, 0, sizeof(float) * size_t(kQB * j.kv.hd16));
  const float neg_inf = -std::numeric_limits<float>::infinity();
  for (int64_t r = 0; r < kQB; ++r) s.rmax[r] = neg_inf, s.rsum[r] = 0.f;
}

// One key tile [k0, k0+kn): scores S = Q K^T, online softmax, then O += P V.
void attend_key_tile(const AttentionJob& j, const BlockScratch& s, const float* kbase, const float* vbase, int64_t b,
                     int64_t q0, int64_t qpanels, int64_t k0) {
  const int64_t kn = std::min(kKB, j.Sk - k0), kn16 = round_up(kn, kNR), hd16 = j.kv.hd16;
  tile_products(j, j.hd, s.qpk, qpanels, kbase + k0 * j.hd, kn16 / kNR, s.st, kKB, false);
  for (int64_t r = 0; r < qpanels * kMR; ++r)
    online_softmax_row(j.mask, b, q0 + r, k0, kn, kn16, s.st + r * kKB, {s.rmax[r], s.rsum[r], s.o + r * hd16, hd16});
  for (int64_t qp = 0; qp < qpanels; ++qp) {  // P into the packed-A layout
    float* dst = s.ppk + qp * kn16 * kMR;
    const float* src = s.st + qp * kMR * kKB;
    for (int64_t c = 0; c < kn16; ++c)
      for (int r = 0; r < kMR; ++r) dst[c * kMR + r] = src[r * kKB + c];
  }
  tile_products(j, kn16, s.ppk, qpanels, vbase + k0 * hd16, j.kv.dpanels, s.o, hd16, true);
}

// Output rows = accumulator / running sum (zero for a row that saw no visible key).
void finish_block(const AttentionJob& j, const BlockScratch& s, int64_t b, int64_t h, int64_t q0, int64_t qn) {
  for (int64_t r = 0; r < qn; ++r)
    write_normalized_row(s.o + r * j.kv.hd16, s.rsum[r], j.hd, j.out + ((b * j.Sq + q0 + r) * j.Hq + h) * j.hd);
}

// One task: query rows [q0, q0+qn) of head h in batch b against every visible key tile.
void attend_query_block(const AttentionJob& j, int64_t b, int64_t h, int64_t q0) {
  const int64_t qn = std::min(kQB, j.Sq - q0);
  const int64_t kvh = b * (j.Hq / j.group) + h / j.group;
  const float* kbase = j.kv.k.p + size_t(kvh) * j.kv.k_stride;
  const float* vbase = j.kv.v.p + size_t(kvh) * j.kv.v_stride;
  const BlockScratch s = block_scratch(j.hd, j.kv.hd16);
  start_block(j, s, b, h, q0, qn);
  const int64_t qpanels = (qn + kMR - 1) / kMR;
  const int64_t k_end = j.mask.causal ? std::min(j.Sk, q0 + qn) : j.Sk;  // keys past the last query are all masked
  for (int64_t k0 = 0; k0 < k_end; k0 += kKB) attend_key_tile(j, s, kbase, vbase, b, q0, qpanels, k0);
  finish_block(j, s, b, h, q0, qn);
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

  PackedKV kv(B * Hkv, Sk, hd);
  pack_kv(pool, k, v, kv);
  const AttentionJob job{q,
                         kv,
                         Sq,
                         Hq,
                         hd,
                         Sk,
                         Hq / Hkv,
                         scale,
                         {mask, Sk, causal},
                         micro_kernel(),
                         wide_micro_kernel(),
                         out.ptr<float>()};
  const int64_t nqb = (Sq + kQB - 1) / kQB;
  pool.parallel_for(B * Hq * nqb, [&](int64_t task) {
    const int64_t qb = task % nqb, h = (task / nqb) % Hq, b = task / (nqb * Hq);
    attend_query_block(job, b, h, qb * kQB);
  });
  return out;
}

}  // namespace ovis::cpu
