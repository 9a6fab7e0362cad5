// Winograd F(2x2, 3x3) driver (see conv_winograd.h). One task per panel of 16 tiles (2 output rows x 32
// columns) on one or more consecutive tile rows: transform the input (straight from the image inside it,
// else from a zero-padded slab) into 16 B panels per row, run the 16 GEMMs over all output channels,
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

constexpr int64_t kTiles = kNR;                     // tiles per task: one micro-kernel panel
constexpr int64_t kSlabLs = 2 * kTiles + 2;         // input columns the tiles read
constexpr int64_t kChunk = 64;                      // channels per slab fill
constexpr int64_t kKBlock = 256;                    // GEMM depth per call (the B panel stays near L1)
constexpr int64_t kBatchedMinChannels = 256 * 256;  // conv_winograd_batched from this Cin * Cout
constexpr int64_t kBatchedMaxPanels = 64;           // and below this many panels (512^2 at 32^2 in 11% less time)

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

int64_t winograd_weights_size(int64_t Cout, int64_t Cin) { return 16 * round_up(Cout, kMR) * Cin; }

void pack_winograd_weights(ThreadPool& pool, const void* w, DType wt, int64_t Cout, int64_t Cin, float* dst) {
  const int64_t mpad = round_up(Cout, kMR);
  // One task per micro-panel: transform into a local [Cin][16][kMR] buffer, then copy each set's panel
  // out in one sequential run. Writing the 16 sets (a power-of-two 4 MiB apart at 512 x 512) a few
  // floats at a time kept them fighting over the same cache sets: 27 ms instead of ~2.
  pool.parallel_for(mpad / kMR, [&](int64_t q) {
    float* t16 = tls_wt.get(size_t(Cin * 16 * kMR));
    float* rows = tls_wrows.get(size_t(kMR * Cin * 9));  // the panel's weights as f32
    const int64_t nrows = std::clamp<int64_t>(Cout - q * kMR, 0, kMR);
    convert_to_f32(static_cast<const char*>(w) + size_t(q * kMR * Cin * 9) * dtype_size(wt), wt, rows,
                   size_t(nrows * Cin * 9));
    for (int64_t ci = 0; ci < Cin; ++ci)
      for (int64_t r = 0; r < kMR; ++r) {
        const int64_t co = q * kMR + r;
        double u[4][4] = {};
        if (co < Cout) {
          const float* g = rows + (r * Cin + ci) * 9;
          double t[4][3];  // G g, in double so U carries one rounding only
          for (int k = 0; k < 3; ++k) {
            const double g0 = g[k], g1 = g[3 + k], g2 = g[6 + k];
            t[0][k] = g0;
            t[1][k] = 0.5 * (g0 + g1 + g2);
            t[2][k] = 0.5 * (g0 - g1 + g2);
            t[3][k] = g2;
          }
          for (int a = 0; a < 4; ++a) {  // (G g) G^T
            u[a][0] = t[a][0];
            u[a][1] = 0.5 * (t[a][0] + t[a][1] + t[a][2]);
            u[a][2] = 0.5 * (t[a][0] - t[a][1] + t[a][2]);
            u[a][3] = t[a][2];
          }
        }
        for (int e = 0; e < 16; ++e) t16[(ci * 16 + e) * kMR + r] = float(u[e / 4][e % 4]);
      }
    for (int e = 0; e < 16; ++e) {
      float* d = dst + e * mpad * Cin + q * Cin * kMR;
      for (int64_t ci = 0; ci < Cin; ++ci)
        for (int r = 0; r < kMR; ++r) d[ci * kMR + r] = t16[(ci * 16 + e) * kMR + r];
    }
  });
}

void conv_winograd(ThreadPool& pool, const ConvGeometry& g, const float* x, const float* u, int64_t Cout,
                   const float* bias, float* out) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  const int64_t Cin = g.Cin, mpad = round_up(Cout, kMR), mpanels = mpad / kMR;
  const int64_t th = ceil_div(g.Ho, 2), npanels = ceil_div(ceil_div(g.Wo, 2), kTiles);
  // Wide convs on small images: too few tile rows per task to reuse U. Decided by the shapes only, so
  // the threads do not change which path (and rounding) a conv gets.
  if (Cin * Cout >= kBatchedMinChannels && th * npanels < kBatchedMaxPanels)
    return conv_winograd_batched(pool, g, x, u, Cout, bias, out);
  // One cache line past a multiple of Cin * 16 floats: the 16 positions' rows are written together and
  // a power-of-two stride would put them all in the same cache set.
  const int64_t vstride = Cin * kTiles + 16, mstride = mpad * kTiles + 16;
  // Tile rows per task: each task sweeps all of U (16 * Cout * Cin floats) once, so wide convs take
  // several rows to reuse it (and neighbouring tile rows share 2 of their 4 input rows); enough tasks
  // stay for the threads to share.
  int64_t nr = std::clamp<int64_t>(Cout * Cin / 8192, 4, 8);
  while (nr > 1 && ceil_div(th, nr) * npanels < 4 * int64_t(pool.size())) nr /= 2;
  const int64_t R = 2 * nr + 2;  // input rows of nr tile rows
  ConvGeometry gs = g;           // fill_conv_slab reads input rows 2 * ty - pad_top + r, r < R
  gs.kh = R;
  gs.stride = 2;
  const MicroKernel kern = micro_kernel();
  const bool wide = use_avx512();  // 12 x 32 tiles: two U panels x two tile rows at once
  pool.parallel_for(ceil_div(th, nr) * npanels, [&](int64_t t) {
    const int64_t ty0 = (t / npanels) * nr, tx0 = (t % npanels) * kTiles, rows = std::min(nr, th - ty0);
    float* v = tls_v.get(size_t(rows * 16 * vstride));
    float* m = tls_m.get(size_t(rows * 16 * mstride));
    const int64_t iy0 = 2 * ty0 - g.pad_top, ix0 = 2 * tx0 - g.pad_left;
    if (iy0 >= 0 && iy0 + 2 * rows + 2 <= g.H && ix0 >= 0 && ix0 + kSlabLs <= g.W) {
      // Inside the image: transform straight from it.
      for (int64_t r = 0; r < rows; ++r)
        winograd_input_avx2(x + (iy0 + 2 * r) * g.W + ix0, Cin, g.H * g.W, g.W, v + r * 16 * vstride, vstride, kTiles);
    } else {
      float* slab = tls_slab.get(size_t(std::min(kChunk, Cin) * R * kSlabLs));
      for (int64_t c0 = 0; c0 < Cin; c0 += kChunk) {
        const int64_t nc = std::min(kChunk, Cin - c0);
        fill_conv_slab(gs, x, c0, nc, ty0, tx0, kSlabLs, slab);
        for (int64_t r = 0; r < rows; ++r)
          winograd_input_avx2(slab + 2 * r * kSlabLs, nc, R * kSlabLs, kSlabLs, v + r * 16 * vstride + c0 * kTiles,
                              vstride, kTiles);
      }
    }
    for (int e = 0; e < 16; ++e)
      for (int64_t k0 = 0; k0 < Cin; k0 += kKBlock) {
        const int64_t kc = std::min(kKBlock, Cin - k0);
        const float* ue = u + e * mpad * Cin + k0 * kMR;
        auto a = [&](int64_t q) { return ue + q * Cin * kMR; };
        auto b = [&](int64_t r) { return v + (r * 16 + e) * vstride + k0 * kTiles; };
        auto c = [&](int64_t q, int64_t r) { return m + (r * 16 + e) * mstride + q * kMR * kTiles; };
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
      const int64_t oy = 2 * (ty0 + r), ox = 2 * tx0;
      winograd_output_avx2(m + r * 16 * mstride, mstride, kTiles, Cout, bias, out + oy * g.Wo + ox, g.Ho * g.Wo, g.Wo,
                           int(std::min<int64_t>(2, g.Ho - oy)), int(std::min<int64_t>(2 * kTiles, g.Wo - ox)));
    }
  });
#else
  (void)pool, (void)g, (void)x, (void)u, (void)Cout, (void)bias, (void)out;
#endif
}

}  // namespace ovis::cpu
