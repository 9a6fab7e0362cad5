// attention_flash (head_dim 128, bf16): flash-attention forward on tensor cores through WMMA.
// A block owns 64 query rows of one (batch, head); each of its 4 warps owns 16 rows. Key/value tiles of
// 32 rows are staged in shared memory; S = Q·Kᵀ (bf16 x bf16 -> f32) goes to shared memory, each warp
// runs the online softmax (base 2, f32) on its rows with one lane per key, rescales its f32 output rows
// in shared memory, then accumulates O += P·V (P rounded to bf16) with WMMA again.
// Handles any Sq/Sk, causal masking (keys j <= i), the key padding mask and grouped KV heads.
#include <mma.h>

#include "cuda_common.cuh"
#include "launchers.h"

namespace ovis::cuda {
namespace {

using namespace nvcuda;

constexpr int kD = 128;  // head dim
constexpr int kBM = 64;  // query rows per block
constexpr int kBN = 32;  // keys per tile (one per lane in the softmax)
constexpr int kWarps = kBM / 16;
constexpr int kLdQ = kD + 8;  // bf16 row strides: multiples of 8 elements for WMMA, padded against bank conflicts
constexpr int kLdKV = kD + 8;
constexpr int kLdP = kBN + 8;
constexpr int kLdS = kBN + 4;  // f32 row strides: multiples of 4
constexpr int kLdO = kD + 4;
// Shared memory layout (byte offsets; each a multiple of 32 as WMMA pointers must be 256-bit aligned).
constexpr int kOffQ = 0;
constexpr int kOffK = kOffQ + kBM * kLdQ * 2;
constexpr int kOffV = kOffK + kBN * kLdKV * 2;
constexpr int kOffP = kOffV + kBN * kLdKV * 2;
constexpr int kOffS = kOffP + kBM * kLdP * 2;
constexpr int kOffO = kOffS + kBM * kLdS * 4;
constexpr int kSmemBytes = kOffO + kBM * kLdO * 4;  // 82944: fits sm_86/89 (99 KB) and up
static_assert(kOffK % 32 == 0 && kOffV % 32 == 0 && kOffP % 32 == 0 && kOffS % 32 == 0 && kOffO % 32 == 0,
              "WMMA tiles need 32-byte alignment");

// Copies `rows` rows of 128 bf16 (row r at src + r * src_stride elements) into shared memory with
// 16-byte vectors; rows past `valid` are zero.
__device__ __forceinline__ void load_rows(bf16* dst, int ld, const bf16* src, int64_t src_stride, int rows, int valid) {
  constexpr int kVec = kD / 8;  // uint4 per row
  for (int idx = threadIdx.x; idx < rows * kVec; idx += blockDim.x) {
    const int r = idx / kVec, c = idx - r * kVec;
    uint4 val = make_uint4(0, 0, 0, 0);
    if (r < valid) val = reinterpret_cast<const uint4*>(src + r * src_stride)[c];
    reinterpret_cast<uint4*>(dst + r * ld)[c] = val;
  }
}

__global__ void __launch_bounds__(kWarps * 32) flash_attention_hd128_kernel(AttentionArgs a) {
  extern __shared__ __align__(128) unsigned char smem[];
  bf16* Qs = reinterpret_cast<bf16*>(smem + kOffQ);
  bf16* Ks = reinterpret_cast<bf16*>(smem + kOffK);
  bf16* Vs = reinterpret_cast<bf16*>(smem + kOffV);
  bf16* Ps = reinterpret_cast<bf16*>(smem + kOffP);
  float* Ss = reinterpret_cast<float*>(smem + kOffS);
  float* Os = reinterpret_cast<float*>(smem + kOffO);

  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int64_t b = blockIdx.z, h = blockIdx.y, hkv = h / (a.hq / a.hkv);
  const int64_t q0 = int64_t(blockIdx.x) * kBM;
  const int64_t q_stride = a.hq * kD, kv_stride = a.hkv * kD;  // elements between consecutive tokens
  const bf16* qg = static_cast<const bf16*>(a.q) + ((b * a.sq + q0) * a.hq + h) * kD;
  const bf16* kg = static_cast<const bf16*>(a.k) + (b * a.sk * a.hkv + hkv) * kD;
  const bf16* vg = static_cast<const bf16*>(a.v) + (b * a.sk * a.hkv + hkv) * kD;
  const float scale_log2 = a.scale * 1.4426950408889634f;

  const int64_t q_valid = a.sq - q0 < kBM ? a.sq - q0 : kBM;
  load_rows(Qs, kLdQ, qg, q_stride, kBM, int(q_valid));
  for (int i = threadIdx.x; i < kBM * kLdO; i += blockDim.x) Os[i] = 0.f;
  __syncthreads();

  wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> qf[kD / 16];
#pragma unroll
  for (int kk = 0; kk < kD / 16; ++kk) wmma::load_matrix_sync(qf[kk], Qs + warp * 16 * kLdQ + kk * 16, kLdQ);

  float m[16], l[16];
#pragma unroll
  for (int r = 0; r < 16; ++r) {
    m[r] = -INFINITY;
    l[r] = 0.f;
  }
  float* Sw = Ss + warp * 16 * kLdS;
  bf16* Pw = Ps + warp * 16 * kLdP;
  float* Ow = Os + warp * 16 * kLdO;

  int64_t kend = a.sk;
  if (a.causal && q0 + kBM < kend) kend = q0 + kBM;  // keys past the block's last query are never visible
  for (int64_t k0 = 0; k0 < kend; k0 += kBN) {
    const int kv_valid = int(a.sk - k0 < kBN ? a.sk - k0 : kBN);
    __syncthreads();  // every warp is done with the previous K/V tile
    load_rows(Ks, kLdKV, kg + k0 * kv_stride, kv_stride, kBN, kv_valid);
    load_rows(Vs, kLdKV, vg + k0 * kv_stride, kv_stride, kBN, kv_valid);
    __syncthreads();

    // S (16 x 32 per warp) = Q_w · Kᵀ
#pragma unroll
    for (int nt = 0; nt < kBN / 16; ++nt) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> sf;
      wmma::fill_fragment(sf, 0.f);
#pragma unroll
      for (int kk = 0; kk < kD / 16; ++kk) {
        // B(k, n) = K[n][k]: column-major view of the K tile.
        wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major> kf;
        wmma::load_matrix_sync(kf, Ks + nt * 16 * kLdKV + kk * 16, kLdKV);
        wmma::mma_sync(sf, qf[kk], kf, sf);
      }
      wmma::store_matrix_sync(Sw + nt * 16, sf, kLdS, wmma::mem_row_major);
    }
    __syncwarp();

    // Online softmax, one lane per key; rescale this warp's output rows.
    const int64_t kj = k0 + lane;
    const bool key_ok = kj < a.sk && (!a.key_mask || a.key_mask[b * a.sk + kj] != 0.f);
#pragma unroll
    for (int r = 0; r < 16; ++r) {
      const int64_t qi = q0 + warp * 16 + r;
      const bool valid = key_ok && (!a.causal || kj <= qi);
      const float s = valid ? Sw[r * kLdS + lane] * scale_log2 : -INFINITY;
      const float mnew = fmaxf(m[r], warp_max(s));
      const float p = valid ? exp2f(s - mnew) : 0.f;  // valid implies mnew is finite
      const float alpha = (m[r] == -INFINITY) ? 0.f : exp2f(m[r] - mnew);
      l[r] = l[r] * alpha + warp_sum(p);
      m[r] = mnew;
      Pw[r * kLdP + lane] = __float2bfloat16_rn(p);
#pragma unroll
      for (int c = 0; c < kD / 32; ++c) Ow[r * kLdO + lane + 32 * c] *= alpha;
    }
    __syncwarp();

    // O_w += P_w (16 x 32) · V (32 x 128)
    wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> pf[kBN / 16];
#pragma unroll
    for (int kk = 0; kk < kBN / 16; ++kk) wmma::load_matrix_sync(pf[kk], Pw + kk * 16, kLdP);
#pragma unroll
    for (int nt = 0; nt < kD / 16; ++nt) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> of;
      wmma::load_matrix_sync(of, Ow + nt * 16, kLdO, wmma::mem_row_major);
#pragma unroll
      for (int kk = 0; kk < kBN / 16; ++kk) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major> vf;
        wmma::load_matrix_sync(vf, Vs + kk * 16 * kLdKV + nt * 16, kLdKV);
        wmma::mma_sync(of, pf[kk], vf, of);
      }
      wmma::store_matrix_sync(Ow + nt * 16, of, kLdO, wmma::mem_row_major);
    }
    __syncwarp();
  }

  // Normalise and write this warp's rows (rows with every key masked give zeros).
  bf16* og = static_cast<bf16*>(a.out);
#pragma unroll
  for (int r = 0; r < 16; ++r) {
    const int64_t qi = q0 + warp * 16 + r;
    if (qi >= a.sq) break;
    const float inv = l[r] > 0.f ? 1.f / l[r] : 0.f;
    bf16* orow = og + ((b * a.sq + qi) * a.hq + h) * kD;
#pragma unroll
    for (int c = 0; c < kD / 32; ++c) orow[lane + 32 * c] = __float2bfloat16_rn(Ow[r * kLdO + lane + 32 * c] * inv);
  }
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

}  // namespace

bool flash_attention_hd128_ok(const AttentionArgs& a) {
  return a.t == DType::BF16 && a.tout == DType::BF16 && a.hd == kD && a.hkv > 0 && a.hq % a.hkv == 0 &&
         aligned16(a.q) && aligned16(a.k) && aligned16(a.v) && aligned16(a.out) && a.hq <= 65535 && a.batch <= 65535;
}

void prepare_flash_attention_hd128() {
  CUDA_CHECK(
      cudaFuncSetAttribute(flash_attention_hd128_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes));
}

void launch_flash_attention_hd128(const AttentionArgs& a, cudaStream_t s) {
  if (!flash_attention_hd128_ok(a)) fail("OVIS_INTERNAL", "flash attention called with unsupported arguments");
  if (a.batch * a.sq * a.hq == 0) return;
  const dim3 grid(unsigned((a.sq + kBM - 1) / kBM), unsigned(a.hq), unsigned(a.batch));
  flash_attention_hd128_kernel<<<grid, kWarps * 32, kSmemBytes, s>>>(a);
  CUDA_CHECK_LAUNCH();
}

}  // namespace ovis::cuda
