// Winograd F(4x2, 3x3) for stride-1 3x3 convs (the VAE's): each output tile of 4 rows x 2 columns is
// computed from a 6x4 input patch (F(4, 3) down the rows, F(2, 3) along them) with 24 products per (input,
// output) channel pair instead of 72, i.e. 3x fewer FLOPs (F(2x2, 3x3): 2.25x). The vertical F(4, 3) costs
// no lane shuffles (rows are separate pointers), where a horizontal one would. The 24 transform positions
// turn into 24 small GEMMs (Cout x Cin by Cin x 16 tiles) on the GEMM micro-kernel. Rounding differs from the
// direct conv (the transforms add and subtract scaled inputs before the products) but stays within the f32
// bounds the tests check against a double reference.
#pragma once
#include <cstdint>

#include "cpu/gemm/conv_gemm.h"

namespace ovis::cpu {

class ThreadPool;

// Whether conv_winograd handles this conv: 3x3, stride 1, AVX2, channel counts where it pays, and not
// switched off (OVIS_CONV_WINOGRAD=0 or set_winograd_enabled(false)).
bool winograd_applies(const ConvGeometry& g, int64_t Cout);
// Tests switch the Winograd path off to compare it with the direct conv.
void set_winograd_enabled(bool on);

// Output rows and columns of one tile, the input patch it reads, and the transform positions.
constexpr int64_t kWinoTileH = 4, kWinoTileW = 2, kWinoPatchH = 6, kWinoPositions = 24;

// Transformed weights U = G4 g G2^T of w [Cout, Cin, 3, 3] (F32/F16/BF16) as 24 sets (one per transform position)
// of GEMM micro-panels: set e, panel q at dst + e * mpad * Cin + q * Cin * kMR (rows past Cout zero).
int64_t winograd_weights_size(int64_t Cout, int64_t Cin);
void pack_winograd_weights(ThreadPool& pool, const void* w, DType wt, int64_t Cout, int64_t Cin, float* dst);

// out [Cout, Ho, Wo] = conv3x3(x [Cin, H, W]) + bias (may be null). Results do not depend on the threads.
void conv_winograd(ThreadPool& pool, const ConvGeometry& g, const float* x, const float* u, int64_t Cout,
                   const float* bias, float* out);

// The same for wide convs on small images (Cin * Cout >= 256^2, U no longer fits in L2, and too few tile
// rows to reuse it over): the input of a group
// of panels is transformed first, then each position's product runs as one cache-blocked GEMM (gemm.h)
// that reuses U over all the group's tiles. Called by conv_winograd.
void conv_winograd_batched(ThreadPool& pool, const ConvGeometry& g, const float* x, const float* u, int64_t Cout,
                           const float* bias, float* out);

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// Input transform V = B4^T d B2 of kNR tiles (one micro-kernel panel) for nc channels: input row r (< 6)
// of channel c from the tiles' first column on is src + c * cpitch + r * rpitch, 2 * kNR + 2 floats. Writes
// v[e * vstride + c * cstride + tile] for the 24 positions e = 4 * (patch row) + (patch column).
void winograd_input_avx2(const float* src, int64_t nc, int64_t cpitch, int64_t rpitch, float* v, int64_t vstride,
                         int64_t cstride);
// Weight transform U = G4 g G2^T of one micro-panel (kMR output channels) in f32: rows holds the panel's
// weights [kMR][Cin][9] (rows past Cout zero). Writes position e of channel ci, row r at
// tp[e * estride + ci * kMR + r]; estride >= Cin * kMR + 2 (each store spills two floats past its row).
void winograd_weights_avx2(const float* rows, int64_t Cin, float* tp, int64_t estride);
// Output transform Y = A4^T m A2 (+ bias) of kNR tiles for Cout channels: m[e * mstride + co * cstride + tile].
// Writes rows 0..rows-1 (1 to 4) and columns 0..cols-1 (<= 2 * kNR) of the tiles' 4 x 2kNR output block at
// out + co * plane + row * ld + col.
void winograd_output_avx2(const float* m, int64_t mstride, int64_t cstride, int64_t Cout, const float* bias, float* out,
                          int64_t plane, int64_t ld, int rows, int cols);
#endif

}  // namespace ovis::cpu
