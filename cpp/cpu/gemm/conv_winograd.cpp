// Winograd F(4x2, 3x3) driver (see conv_winograd.h). One task per panel of 16 tiles (4 output rows x 32
// columns) on one or more consecutive tile rows: transform the input (straight from the image inside it,
// else from a zero-padded slab) into 24 B panels per row, run the 24 GEMMs over all output channels,
// transform back. Every output is summed inside one task in a fixed order, so the threads do not change
// the result.
#include "cpu/gemm/conv_winograd.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>

#include "cpu/gemm/gemm.h"
#include "cpu/gemm/scratch.h"
#include "cpu/simd/cpu_features.h"
#include "cpu/thread_pool.h"

namespace ovis::cpu {

namespace {

constexpr int64_t kTiles = kNR;                       // tiles per task: one micro-kernel panel
constexpr int64_t kSlabLs = kWinoTileW * kTiles + 2;  // input columns the tiles read
constexpr int64_t kChunk = 64;                        // channels per slab fill
constexpr int64_t kKBlock = 256;                      // GEMM depth per call (the B panel stays near L1)
constexpr int64_t kBatchedMinChannels = 256 * 256;    // conv_winograd_batched from this Cin * Cout
constexpr int64_t kBatchedMaxPanels = 32;             // and below this many panels (512^2 at 32^2 in 11% less time)
constexpr int64_t kPos = kWinoPositions;

thread_local Scratch tls_v, tls_m, tls_slab, tls_wt, tls_wrows;
std::atomic<bool> g_enabled{true};

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }
int64_t ceil_div(int64_t v, int64_t m) { return (v + m - 1) / m; }

bool env_enabled() {
  const char* env = std::getenv("OVIS_CONV_WINOGRAD");
  return !(env && env[0] == '0');
}

}  // namespace

void set_winograd_enabled(bool on) { g_enabled.store(on, std::memory_order_relaxed); }

bool winograd_applies(const ConvGeometry& g, int64_t Cout) {
  static const bool env = env_enabled();
  // Few channels (the latent's 16 in, RGB's 3 out) leave the GEMMs too small to pay for the transforms.
  return env && g_enabled.load(std::memory_order_relaxed) && use_avx2() && g.kh == 3 && g.kw == 3 && g.stride == 1 &&
         g.Cin >= 16 && Cout >= 16 && g.Ho > 0 && g.Wo > 0;
}

int64_t winograd_weights_size(int64_t Cout, int64_t Cin) { return kPos * round_up(Cout, kMR) * Cin; }

void pack_winograd_weights(ThreadPool& pool, const void* w, DType wt, int64_t Cout, int64_t Cin, float* dst) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  const int64_t mpad = round_up(Cout, kMR);
  // One task per micro-panel: transform into a local buffer holding the panel of every set (one set after
  // the other, a cache line apart past Cin * kMR so they do not share cache sets), then copy each set's
  // panel out in one sequential run. Writing the sets (a power of two, 4 MiB, apart at 512 x 512) a few
  // floats at a time kept them fighting over the same cache sets: 27 ms instead of ~2.
  const int64_t estride = Cin * kMR + 16;
  pool.parallel_for(mpad / kMR, [&](int64_t q) {
    float* tp = tls_wt.get(size_t(kPos * estride));
    float* rows = tls_wrows.get(size_t(kMR * Cin * 9));  // the panel's weights as f32
    const int64_t nrows = std::clamp<int64_t>(Cout - q * kMR, 0, kMR);
    convert_to_f32(static_cast<const char*>(w) + size_t(q * kMR * Cin * 9) * dtype_size(wt), wt, rows,
                   size_t(nrows * Cin * 9));
    std::fill(rows + nrows * Cin * 9, rows + kMR * Cin * 9, 0.f);
    winograd_weights_avx2(rows, Cin, tp, estride);
    for (int e = 0; e < kPos; ++e)
      std::copy(tp + e * estride, tp + e * estride + Cin * kMR, dst + e * mpad * Cin + q * Cin * kMR);
  });
#else
  (void)pool, (void)w, (void)wt, (void)Cout, (void)Cin, (void)dst;
#endif
}

void conv_winograd(ThreadPool& pool, const ConvGeometry& g, const float* x, const float* u, int64_t Cout,
                   const float* bias, float* out) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  const int64_t Cin = g.Cin, mpad = round_up(Cout, kMR), mpanels = mpad / kMR;
  const int64_t th = ceil_div(g.Ho, kWinoTileH), npanels = ceil_div(ceil_div(g.Wo, kWinoTileW), kTiles);
  // Wide convs on small images: too few tile rows per task to reuse U. Decided by the shapes only, so
  // the threads do not change which path (and rounding) a conv gets.
  if (Cin * Cout >= kBatchedMinChannels && th * npanels < kBatchedMaxPanels)
    return conv_winograd_batched(pool, g, x, u, Cout, bias, out);
  // One cache line past a multiple of Cin * 16 floats: the 24 positions' rows are written together and
  // a power-of-two stride would put them all in the same cache set.
  const int64_t vstride = Cin * kTiles + 16, mstride = mpad * kTiles + 16;
  // Tile rows per task: each task sweeps all of U (24 * Cout * Cin floats) once, so wide convs take
  // several rows to reuse it (and neighbouring tile rows share 2 of their 6 input rows); enough tasks
  // stay for the threads to share.
  int64_t nr = std::clamp<int64_t>(Cout * Cin / 16384, 2, 4);
  while (nr > 1 && ceil_div(th, nr) * npanels < 4 * int64_t(pool.size())) nr /= 2;
  const int64_t R = kWinoTileH * nr + 2;  // input rows of nr tile rows
  ConvGeometry gs = g;                    // fill_conv_slab reads input rows 2 * oy - pad_top + r, r < R (oy = 2 ty)
  gs.kh = R;
  gs.stride = 2;
  const MicroKernel kern = micro_kernel();
  const bool wide = use_avx512();  // 12 x 32 tiles: two U panels x two tile rows at once
  pool.parallel_for(ceil_div(th, nr) * npanels, [&](int64_t t) {
    const int64_t ty0 = (t / npanels) * nr, tx0 = (t % npanels) * kTiles, rows = std::min(nr, th - ty0);
    float* v = tls_v.get(size_t(rows * kPos * vstride));
    float* m = tls_m.get(size_t(rows * kPos * mstride));
    const int64_t iy0 = kWinoTileH * ty0 - g.pad_top, ix0 = kWinoTileW * tx0 - g.pad_left;
    if (iy0 >= 0 && iy0 + kWinoTileH * rows + 2 <= g.H && ix0 >= 0 && ix0 + kSlabLs <= g.W) {
      // Inside the image: transform straight from it.
      for (int64_t r = 0; r < rows; ++r)
        winograd_input_avx2(x + (iy0 + kWinoTileH * r) * g.W + ix0, Cin, g.H * g.W, g.W, v + r * kPos * vstride,
                            vstride, kTiles);
    } else {
      float* slab = tls_slab.get(size_t(std::min(kChunk, Cin) * R * kSlabLs));
      for (int64_t c0 = 0; c0 < Cin; c0 += kChunk) {
        const int64_t nc = std::min(kChunk, Cin - c0);
        fill_conv_slab(gs, x, c0, nc, 2 * ty0, tx0, kSlabLs, slab);
        for (int64_t r = 0; r < rows; ++r)
          winograd_input_avx2(slab + kWinoTileH * r * kSlabLs, nc, R * kSlabLs, kSlabLs,
                              v + r * kPos * vstride + c0 * kTiles, vstride, kTiles);
      }
    }
    for (int e = 0; e < kPos; ++e)
      for (int64_t k0 = 0; k0 < Cin; k0 += kKBlock) {
        const int64_t kc = std::min(kKBlock, Cin - k0);
        const float* ue = u + e * mpad * Cin + k0 * kMR;
        auto a = [&](int64_t q) { return ue + q * Cin * kMR; };
        auto b = [&](int64_t r) { return v + (r * kPos + e) * vstride + k0 * kTiles; };
        auto c = [&](int64_t q, int64_t r) { return m + (r * kPos + e) * mstride + q * kMR * kTiles; };
        int64_t q = 0;
        if (wide)
          for (; q + 2 <= mpanels; q += 2) {
            int64_t r = 0;
            for (; r + 2 <= rows; r += 2)
              micro_kernel_avx512_2x2(kc, a(q), a(q + 1), b(r), b(r + 1), c(q, r), c(q, r + 1), kTiles, k0 > 0);
            for (; r < rows; ++r)
              for (int64_t h = q; h < q + 2; ++h) kern(kc, a(h), b(r), c(h, r), kTiles, k0 > 0);
          }
        for (; q < mpanels; ++q)
          for (int64_t r = 0; r < rows; ++r) kern(kc, a(q), b(r), c(q, r), kTiles, k0 > 0);
      }
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t oy = kWinoTileH * (ty0 + r), ox = kWinoTileW * tx0;
      winograd_output_avx2(m + r * kPos * mstride, mstride, kTiles, Cout, bias, out + oy * g.Wo + ox, g.Ho * g.Wo, g.Wo,
                           int(std::min<int64_t>(kWinoTileH, g.Ho - oy)),
                           int(std::min<int64_t>(kWinoTileW * kTiles, g.Wo - ox)));
    }
  });
#else
  (void)pool, (void)g, (void)x, (void)u, (void)Cout, (void)bias, (void)out;
#endif
}

}  // namespace ovis::cpu
