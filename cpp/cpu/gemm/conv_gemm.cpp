// Implicit-GEMM conv2d driver (see conv_gemm.h). One task per segment of an output row; per block of
// input channels it fills a slab with the input rows the segment reads, then for each 16-pixel panel packs
// it (it stays in L1) and sweeps all weight micro-panels over it (the weight block stays in L2). Segment
// and block sizes depend only on the shapes, never on the thread count, so every output is summed in the
// same order whatever the threads.
#include "cpu/gemm/conv_gemm.h"

#include <algorithm>

#include "cpu/gemm/gemm.h"
#include "cpu/gemm/scratch.h"
#include "cpu/simd/cpu_features.h"
#include "cpu/thread_pool.h"

namespace ovis::cpu {

namespace {

thread_local Scratch tls_tile;   // mpad x segment accumulators
thread_local Scratch tls_slab;   // input rows of one segment and channel block
thread_local Scratch tls_panel;  // one packed im2col panel

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }
int64_t ceil_div(int64_t v, int64_t m) { return (v + m - 1) / m; }

// Output pixels per segment at most: the accumulator tile (mpad x segment floats) stays within ~136 KiB
// and, with the weight block and the slab, well inside L2 (128 output channels ran faster at 128 than 256).
int64_t max_segment(int64_t mpad) { return mpad <= 72 ? 256 : mpad <= 264 ? 128 : 64; }

// Input channels per block: the weight block (mpad x kc floats, kc = channels * kh * kw) stays within
// ~192 KiB of L2 and a packed panel (kc x 16 floats) within 24 KiB of L1; Cin is split into equal blocks.
int64_t channels_per_block(int64_t mpad, int64_t Cin, int64_t khw) {
  const int64_t kc_max = std::clamp<int64_t>(49152 / mpad, 64, 384);
  const int64_t cb_max = std::max<int64_t>(1, kc_max / khw);
  return ceil_div(Cin, ceil_div(Cin, cb_max));
}

}  // namespace

int64_t conv_packed_weights_size(int64_t Cout, int64_t K) { return round_up(Cout, kMR) * K; }

void pack_conv_weights(ThreadPool& pool, const void* w, DType t, int64_t Cout, int64_t K, float* dst) {
  const StridedA A(w, t, K, 1);
  pool.parallel_for(round_up(Cout, kMR) / kMR, [&](int64_t q) {
    A.pack(q * kMR, int(std::min<int64_t>(kMR, Cout - q * kMR)), 0, K, dst + q * K * kMR);
  });
}

void conv_gemm(ThreadPool& pool, const ConvGeometry& g, const float* x, const float* wpacked, int64_t Cout,
               const float* bias, float* out) {
  const int64_t K = g.K(), P = g.P();
  if (Cout <= 0 || P <= 0) return;
  if (K <= 0) {  // no input channels: the output is the bias
    for (int64_t m = 0; m < Cout; ++m) std::fill(out + m * P, out + (m + 1) * P, bias ? bias[m] : 0.f);
    return;
  }
  const int64_t mpad = round_up(Cout, kMR), mpanels = mpad / kMR, khw = g.kh * g.kw;
  const int64_t nseg = ceil_div(g.Wo, max_segment(mpad));
  const int64_t seg = round_up(ceil_div(g.Wo, nseg), kNR);  // segment width, whole panels
  const int64_t ls = (seg - 1) * g.stride + g.kw;           // slab row: every column a full panel reads
  const int64_t cb = channels_per_block(mpad, g.Cin, khw);
  const MicroKernel kern = micro_kernel();
  // Stride 1 with AVX2: the kernel reads pixels straight from the slab (with AVX-512, two panels at a
  // time); otherwise pack each panel.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  const bool direct = g.stride == 1 && use_avx2(), wide = use_avx512();
#endif
  pool.parallel_for(g.Ho * nseg, [&](int64_t t) {
    const int64_t oy = t / nseg, ox0 = (t % nseg) * seg, nw = std::min(seg, g.Wo - ox0);
    if (nw <= 0) return;
    const int64_t npanels = ceil_div(nw, kNR);
    float* acc = tls_tile.get(size_t(mpad * seg));
    float* slab = tls_slab.get(size_t(cb * g.kh * ls));
    float* panel = tls_panel.get(size_t(cb * khw * kNR));
    for (int64_t c0 = 0; c0 < g.Cin; c0 += cb) {
      const int64_t nc = std::min(cb, g.Cin - c0), k0 = c0 * khw, kc = nc * khw;
      fill_conv_slab(g, x, c0, nc, oy, ox0, ls, slab);
      for (int64_t p = 0; p < npanels; ++p) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
        if (direct && wide && p + 1 < npanels) {  // two panels at once
          for (int64_t q = 0; q < mpanels; ++q)
            conv_slab_kernel_avx512_x2(nc * g.kh, g.kw, ls, wpacked + q * K * kMR + k0 * kMR, slab + p * kNR,
                                       acc + q * kMR * seg + p * kNR, seg, c0 > 0);
          ++p;
          continue;
        }
        if (direct) {
          for (int64_t q = 0; q < mpanels; ++q)
            conv_slab_kernel_avx2(nc * g.kh, g.kw, ls, wpacked + q * K * kMR + k0 * kMR, slab + p * kNR,
                                  acc + q * kMR * seg + p * kNR, seg, c0 > 0);
          continue;
        }
#endif
        pack_slab_panel(g, slab, nc, ls, p * kNR, panel);
        for (int64_t q = 0; q < mpanels; ++q)
          kern(kc, wpacked + q * K * kMR + k0 * kMR, panel, acc + q * kMR * seg + p * kNR, seg, c0 > 0);
      }
    }
    for (int64_t m = 0; m < Cout; ++m) {
      const float* a = acc + m * seg;
      float* o = out + m * P + oy * g.Wo + ox0;
      if (bias) {
        const float b = bias[m];
        for (int64_t j = 0; j < nw; ++j) o[j] = a[j] + b;
      } else {
        std::copy(a, a + nw, o);
      }
    }
  });
}

}  // namespace ovis::cpu
