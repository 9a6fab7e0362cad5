// Winograd F(4x2, 3x3) for wide convs (see conv_winograd.h): per group of panels (16 tiles of one tile
// row each), transform the input of all of them, run each position's product as one cache-blocked GEMM
// M_e [Cout, tiles] = U_e [Cout, Cin] . V_e [Cin, tiles], then transform back. The per-panel driver
// (conv_winograd.cpp) sweeps all of U (24 * Cin * Cout floats, 24 MiB at 512 channels) for every few
// panels; here the GEMM reuses each block of U over the whole group. gemm() sums in a fixed order
// whatever the threads, and each transform is one task's work, so the threads do not change the result.
#include <algorithm>

#include "cpu/gemm/conv_winograd.h"
#include "cpu/gemm/gemm.h"
#include "cpu/gemm/scratch.h"
#include "cpu/thread_pool.h"

namespace ovis::cpu {

namespace {

constexpr int64_t kTiles = kNR;                       // tiles per panel
constexpr int64_t kSlabLs = kWinoTileW * kTiles + 2;  // input columns a panel reads
constexpr int64_t kGroupFloats = 3 << 20;             // V of one group: 12 MiB
constexpr int64_t kPos = kWinoPositions;

thread_local Scratch tls_slab, tls_v, tls_m;

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }
int64_t ceil_div(int64_t v, int64_t m) { return (v + m - 1) / m; }

// A operand read from U's micro-panels (conv_winograd.h): gemm() asks for rows i0.. with i0 a multiple
// of kMR, which is one packed panel as it stands.
class PackedPanelsA final : public PackSourceA {
 public:
  PackedPanelsA(const float* u, int64_t K) : u_(u), K_(K) {}
  void pack(int64_t i0, int, int64_t k0, int64_t kc, float* dst) const override {
    std::copy(u_ + (i0 / kMR) * K_ * kMR + k0 * kMR, u_ + (i0 / kMR) * K_ * kMR + (k0 + kc) * kMR, dst);
  }

 private:
  const float* u_;
  int64_t K_;
};
static_assert(kMC % kMR == 0, "gemm() row blocks must start on a U panel");

}  // namespace

void conv_winograd_batched(ThreadPool& pool, const ConvGeometry& g, const float* x, const float* u, int64_t Cout,
                           const float* bias, float* out) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  const int64_t Cin = g.Cin, mpad = round_up(Cout, kMR);
  const int64_t th = ceil_div(g.Ho, kWinoTileH), npanels = ceil_div(ceil_div(g.Wo, kWinoTileW), kTiles),
                total = th * npanels;
  const int64_t per_group = std::clamp<int64_t>(kGroupFloats / (kPos * Cin * kTiles), 1, total);
  const int64_t n = per_group * kTiles;  // GEMM columns
  // One cache line past the plain size: the 24 positions' rows are written together.
  const int64_t vstride = Cin * n + 16, mstride = Cout * n + 16;
  float* v = tls_v.get(size_t(kPos * vstride));  // the calling thread's; the workers only fill it
  float* m = tls_m.get(size_t(kPos * mstride));
  ConvGeometry g6 = g;  // fill_conv_slab reads input rows 2 * oy - pad_top + r, r < 6 (oy = 2 ty)
  g6.kh = kWinoPatchH;
  g6.stride = 2;
  for (int64_t p0 = 0; p0 < total; p0 += per_group) {
    const int64_t np = std::min(per_group, total - p0);
    pool.parallel_for(np, [&](int64_t i) {
      const int64_t ty = (p0 + i) / npanels, tx0 = ((p0 + i) % npanels) * kTiles;
      const int64_t iy0 = kWinoTileH * ty - g.pad_top, ix0 = kWinoTileW * tx0 - g.pad_left;
      float* vp = v + i * kTiles;
      if (iy0 >= 0 && iy0 + kWinoPatchH <= g.H && ix0 >= 0 && ix0 + kSlabLs <= g.W) {
        winograd_input_avx2(x + iy0 * g.W + ix0, Cin, g.H * g.W, g.W, vp, vstride, n);
        return;
      }
      float* slab = tls_slab.get(size_t(Cin * kWinoPatchH * kSlabLs));
      fill_conv_slab(g6, x, 0, Cin, 2 * ty, tx0, kSlabLs, slab);
      winograd_input_avx2(slab, Cin, kWinoPatchH * kSlabLs, kSlabLs, vp, vstride, n);
    });
    for (int e = 0; e < kPos; ++e)
      gemm(&pool, Cout, np * kTiles, Cin, PackedPanelsA(u + e * mpad * Cin, Cin),
           StridedB(v + e * vstride, DType::F32, n, 1), m + e * mstride, n);
    pool.parallel_for(np, [&](int64_t i) {
      const int64_t ty = (p0 + i) / npanels, tx0 = ((p0 + i) % npanels) * kTiles, oy = kWinoTileH * ty,
                    ox = kWinoTileW * tx0;
      winograd_output_avx2(m + i * kTiles, mstride, n, Cout, bias, out + oy * g.Wo + ox, g.Ho * g.Wo, g.Wo,
                           int(std::min<int64_t>(kWinoTileH, g.Ho - oy)),
                           int(std::min<int64_t>(kWinoTileW * kTiles, g.Wo - ox)));
    });
  }
#else
  (void)pool, (void)g, (void)x, (void)u, (void)Cout, (void)bias, (void)out;
#endif
}

}  // namespace ovis::cpu
