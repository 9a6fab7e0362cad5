// attention_mma: FlashAttention-2-style forward on tensor cores through raw mma.sync (m16n8k16, bf16 in,
// f32 accumulate). A block owns 64 query rows of one (batch, head); each of its 4 warps owns 16 rows and
// keeps Q, S, P and O in registers (S accumulators become P's A fragments without touching shared
// memory). K/V tiles of 64 keys are double-buffered in shared memory with cp.async, so the next tile
// loads while this one is computed. Causal masking (keys j <= i), the key padding mask and grouped KV
// heads as in attention_flash.cu. Head dims: multiples of 16 up to 128 (instantiated: 32, 64, 80, 128).
// Selected by OVIS_ATTENTION=mma (cuda/attention.cpp) until a GPU has verified it against the CPU.
#include "cuda_common.cuh"
#include "launchers.h"

namespace ovis::cuda {
namespace {

constexpr int kBM = 64;  // query rows per block
constexpr int kBN = 64;  // keys per tile
constexpr int kWarps = kBM / 16;
constexpr int kThreads = kWarps * 32;

template <int D>
struct Layout {
  static constexpr int kLd = D + 8;  // bf16 row stride: 16-byte rows, conflict-free 32-bit fragment loads
  static constexpr int kQ = kBM * kLd;
  static constexpr int kTile = kBN * kLd;
  static constexpr int kSmemBytes = (kQ + 4 * kTile) * 2 + 2 * kBN * 4;  // Q, 2 x (K, V), 2 key-ok masks
};

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte global -> shared copy that bypasses registers; src_bytes 0 writes zeros (rows past the end).
__device__ __forceinline__ void cp_async16(void* dst, const void* src, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src), "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

// d += a (16x16, row) * b (16x8, col), bf16 in, f32 accumulate.
__device__ __forceinline__ void mma_bf16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Four transposed 8x8 bf16 matrices from shared memory (the B fragments of V for two n-tiles).
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}

__device__ __forceinline__ uint32_t ld_pair(const bf16* p) { return *reinterpret_cast<const uint32_t*>(p); }

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&v);
}

// Starts the copy of `rows` rows of D bf16 (row r at src + r * stride) into shared memory.
template <int D>
__device__ __forceinline__ void load_tile_async(bf16* dst, const bf16* src, int64_t stride, int rows, int valid) {
  constexpr int kVec = D / 8;
  for (int idx = threadIdx.x; idx < rows * kVec; idx += kThreads) {
    const int r = idx / kVec, c = idx - r * kVec;
    const bool ok = r < valid;
    cp_async16(dst + r * Layout<D>::kLd + c * 8, ok ? src + r * stride + c * 8 : src, ok ? 16 : 0);
  }
}

template <int D>
__global__ void __launch_bounds__(kThreads) attention_mma_kernel(AttentionArgs a) {
  using L = Layout<D>;
  constexpr int kKSteps = D / 16;   // k-steps of Q·Kᵀ
  constexpr int kSTiles = kBN / 8;  // n-tiles of S
  constexpr int kOTiles = D / 8;    // n-tiles of O
  extern __shared__ __align__(128) unsigned char smem[];
  bf16* Qs = reinterpret_cast<bf16*>(smem);
  bf16* Ks = Qs + L::kQ;                                        // [2][kBN][kLd]
  bf16* Vs = Ks + 2 * L::kTile;                                 // [2][kBN][kLd]
  float* key_ok = reinterpret_cast<float*>(Vs + 2 * L::kTile);  // [2][kBN]: 1 visible, 0 masked or past the end

  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const int64_t b = blockIdx.z, h = blockIdx.y, hkv = h / (a.hq / a.hkv);
  const int64_t q0 = int64_t(blockIdx.x) * kBM;
  const int64_t q_stride = a.hq * D, kv_stride = a.hkv * D;
  const bf16* qg = static_cast<const bf16*>(a.q) + ((b * a.sq + q0) * a.hq + h) * D;
  const bf16* kg = static_cast<const bf16*>(a.k) + (b * a.sk * a.hkv + hkv) * D;
  const bf16* vg = static_cast<const bf16*>(a.v) + (b * a.sk * a.hkv + hkv) * D;
  const float scale_log2 = a.scale * 1.4426950408889634f;

  int64_t kend = a.sk;
  if (a.causal && q0 + kBM < kend) kend = q0 + kBM;  // later keys are invisible to every row of the block
  const int ntiles = int((kend + kBN - 1) / kBN);

  auto issue_tile = [&](int i) {
    const int64_t k0 = int64_t(i) * kBN;
    const int valid = int(a.sk - k0 < kBN ? a.sk - k0 : kBN);
    const int buf = i & 1;
    load_tile_async<D>(Ks + buf * L::kTile, kg + k0 * kv_stride, kv_stride, kBN, valid);
    load_tile_async<D>(Vs + buf * L::kTile, vg + k0 * kv_stride, kv_stride, kBN, valid);
    for (int j = threadIdx.x; j < kBN; j += kThreads) {
      const int64_t kj = k0 + j;
      key_ok[buf * kBN + j] = (kj < a.sk && (!a.key_mask || a.key_mask[b * a.sk + kj] != 0.f)) ? 1.f : 0.f;
    }
    cp_async_commit();
  };

  load_tile_async<D>(Qs, qg, q_stride, kBM, int(a.sq - q0 < kBM ? a.sq - q0 : kBM));
  cp_async_commit();
  if (ntiles > 0) issue_tile(0);

  uint32_t qf[kKSteps][4];
  float o[kOTiles][4];
#pragma unroll
  for (int n = 0; n < kOTiles; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};  // rows g and g + 8 of this warp
  const int64_t row0 = q0 + warp * 16 + g;

  for (int i = 0; i < ntiles; ++i) {
    if (i + 1 < ntiles) {
      issue_tile(i + 1);  // its buffer was released by the barrier at the end of iteration i - 1
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    if (i == 0) {  // Q fragments, once: A(row, k) = Q[row][k]
      const bf16* qw = Qs + warp * 16 * L::kLd;
#pragma unroll
      for (int kk = 0; kk < kKSteps; ++kk) {
        qf[kk][0] = ld_pair(qw + g * L::kLd + kk * 16 + 2 * t);
        qf[kk][1] = ld_pair(qw + (g + 8) * L::kLd + kk * 16 + 2 * t);
        qf[kk][2] = ld_pair(qw + g * L::kLd + kk * 16 + 8 + 2 * t);
        qf[kk][3] = ld_pair(qw + (g + 8) * L::kLd + kk * 16 + 8 + 2 * t);
      }
    }
    const int buf = i & 1;
    const bf16* kt = Ks + buf * L::kTile;
    const bf16* vt = Vs + buf * L::kTile;
    const float* ok = key_ok + buf * kBN;
    const int64_t k0 = int64_t(i) * kBN;

    // S (16 x 64 per warp) = Q_w · Kᵀ: B(k, n) = K[n][k], so each B register is a K row pair.
    float s[kSTiles][4];
#pragma unroll
    for (int n = 0; n < kSTiles; ++n) {
      s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
      const bf16* krow = kt + (n * 8 + g) * L::kLd + 2 * t;
#pragma unroll
      for (int kk = 0; kk < kKSteps; ++kk) mma_bf16(s[n], qf[kk], ld_pair(krow + kk * 16), ld_pair(krow + kk * 16 + 8));
    }

    // Online softmax in base 2 on rows g (c0, c1) and g + 8 (c2, c3); the 4 lanes of a quad share a row.
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int n = 0; n < kSTiles; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int r = e >> 1, j = n * 8 + 2 * t + (e & 1);
        const bool valid = ok[j] != 0.f && (!a.causal || k0 + j <= row0 + 8 * r);
        s[n][e] = valid ? s[n][e] * scale_log2 : -INFINITY;
        mx[r] = fmaxf(mx[r], s[n][e]);
      }
    float alpha[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
      const float mnew = fmaxf(m[r], mx[r]);
      alpha[r] = (m[r] == -INFINITY) ? 0.f : exp2f(m[r] - mnew);
      m[r] = mnew;
      l[r] *= alpha[r];  // per-lane partial sums; the quad is summed once at the end
    }
#pragma unroll
    for (int n = 0; n < kSTiles; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int r = e >> 1;
        s[n][e] = s[n][e] == -INFINITY ? 0.f : exp2f(s[n][e] - m[r]);
        l[r] += s[n][e];
      }
#pragma unroll
    for (int n = 0; n < kOTiles; ++n) {
      o[n][0] *= alpha[0], o[n][1] *= alpha[0];
      o[n][2] *= alpha[1], o[n][3] *= alpha[1];
    }

    // O_w += P_w · V: the S accumulators of n-tiles 2kk, 2kk + 1 are exactly P's A fragment for k-step kk.
#pragma unroll
    for (int kk = 0; kk < kBN / 16; ++kk) {
      const uint32_t pf[4] = {pack_bf16(s[2 * kk][0], s[2 * kk][1]), pack_bf16(s[2 * kk][2], s[2 * kk][3]),
                              pack_bf16(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                              pack_bf16(s[2 * kk + 1][2], s[2 * kk + 1][3])};
      // ldmatrix.trans: lanes 0-7 / 8-15 address keys 0-7 / 8-15 of n-tile n, lanes 16-31 those of n + 1.
      const bf16* vrow = vt + (kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * L::kLd + (lane >> 4) * 8;
#pragma unroll
      for (int n = 0; n + 1 < kOTiles; n += 2) {
        uint32_t vb[4];
        ldmatrix_x4_trans(vb, vrow + n * 8);
        mma_bf16(o[n], pf, vb[0], vb[1]);
        mma_bf16(o[n + 1], pf, vb[2], vb[3]);
      }
      if constexpr (kOTiles % 2) {  // D = 80: one n-tile left; its lanes 16-31 read the same rows (harmless)
        const bf16* vlast = vt + (kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * L::kLd + (kOTiles - 1) * 8;
        uint32_t vb[4];
        ldmatrix_x4_trans(vb, vlast);
        mma_bf16(o[kOTiles - 1], pf, vb[0], vb[1]);
      }
    }
    __syncthreads();  // every warp is done with this buffer before iteration i + 1 refills it
  }

  cp_async_wait<0>();  // with no key tile at all (Sk = 0) the Q copy is still in flight

  // Normalise and write rows g and g + 8 (rows whose every key is masked give zeros).
  bf16* og = static_cast<bf16*>(a.out);
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float sum = l[r];
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    const int64_t qi = row0 + 8 * r;
    if (qi >= a.sq) continue;
    const float inv = sum > 0.f ? 1.f / sum : 0.f;
    bf16* orow = og + ((b * a.sq + qi) * a.hq + h) * D;
#pragma unroll
    for (int n = 0; n < kOTiles; ++n)
      *reinterpret_cast<__nv_bfloat162*>(orow + n * 8 + 2 * t) =
          __floats2bfloat162_rn(o[n][2 * r] * inv, o[n][2 * r + 1] * inv);
  }
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

template <int D>
void set_smem() {
  CUDA_CHECK(cudaFuncSetAttribute(attention_mma_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  Layout<D>::kSmemBytes));
}

template <int D>
void launch(const AttentionArgs& a, cudaStream_t s) {
  const dim3 grid(unsigned((a.sq + kBM - 1) / kBM), unsigned(a.hq), unsigned(a.batch));
  attention_mma_kernel<D><<<grid, kThreads, Layout<D>::kSmemBytes, s>>>(a);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

bool attention_mma_ok(const AttentionArgs& a) {
  const bool dim_ok = a.hd == 32 || a.hd == 64 || a.hd == 80 || a.hd == 128;
  return a.t == DType::BF16 && a.tout == DType::BF16 && dim_ok && a.hkv > 0 && a.hq % a.hkv == 0 && aligned16(a.q) &&
         aligned16(a.k) && aligned16(a.v) && aligned16(a.out) && a.hq <= 65535 && a.batch <= 65535;
}

void prepare_attention_mma() {
  set_smem<32>();
  set_smem<64>();
  set_smem<80>();
  set_smem<128>();
}

void launch_attention_mma(const AttentionArgs& a, cudaStream_t s) {
  if (!attention_mma_ok(a)) fail("OVIS_INTERNAL", "mma attention called with unsupported arguments");
  if (a.batch * a.sq * a.hq == 0) return;
  switch (a.hd) {
    case 32:
      return launch<32>(a, s);
    case 64:
      return launch<64>(a, s);
    case 80:
      return launch<80>(a, s);
    default:
      return launch<128>(a, s);
  }
}

}  // namespace ovis::cuda
