// attention_generic: softmax(q·kᵀ·scale + mask) · v for any float dtype and head_dim <= 512, f32 math.
// One warp per query row (8 per block) sharing K/V tiles in shared memory; online softmax in base 2.
// Used for fp32 mode, the VAE's 512-channel attention and anything the flash kernel does not take.
#include <type_traits>

#include "cuda_common.cuh"
#include "launchers.h"

namespace ovis::cuda {
namespace {

constexpr int kWarps = 8;  // query rows per block
constexpr int kBK = 8;     // keys per shared tile
constexpr int kMaxD = 512;

template <class T, int DPL>  // DPL: head dims per lane (hd <= 32 * DPL)
__global__ void __launch_bounds__(kWarps * 32) attention_generic_kernel(AttentionArgs a) {
  __shared__ float Ks[kBK][kMaxD];
  __shared__ float Vs[kBK][kMaxD];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int64_t b = blockIdx.z, h = blockIdx.y, hkv = h / (a.hq / a.hkv), hd = a.hd;
  const int64_t q0 = int64_t(blockIdx.x) * kWarps, qi = q0 + warp;
  const bool active = qi < a.sq;
  const T* q = static_cast<const T*>(a.q);
  const T* k = static_cast<const T*>(a.k);
  const T* v = static_cast<const T*>(a.v);
  const float scale_log2 = a.scale * 1.4426950408889634f;

  float qr[DPL], acc[DPL];
#pragma unroll
  for (int j = 0; j < DPL; ++j) {
    const int64_t d = lane + 32 * j;
    qr[j] = (active && d < hd) ? to_f32(q[((b * a.sq + qi) * a.hq + h) * hd + d]) * scale_log2 : 0.f;
    acc[j] = 0.f;
  }
  float m = -INFINITY, l = 0.f;
  int64_t kend = a.sk;
  if (a.causal && q0 + kWarps < kend) kend = q0 + kWarps;  // no row of this block sees keys past its last query

  for (int64_t k0 = 0; k0 < kend; k0 += kBK) {
    __syncthreads();  // the previous tile is no longer read
    for (int64_t idx = threadIdx.x; idx < kBK * hd; idx += blockDim.x) {
      const int r = int(idx / hd);
      const int64_t d = idx - r * hd, kj = k0 + r;
      float kv = 0.f, vv = 0.f;
      if (kj < a.sk) {
        const int64_t off = ((b * a.sk + kj) * a.hkv + hkv) * hd + d;
        kv = to_f32(k[off]);
        vv = to_f32(v[off]);
      }
      Ks[r][d] = kv;
      Vs[r][d] = vv;
    }
    __syncthreads();
    if (!active) continue;  // every thread still reaches the barriers at the top of the loop

    float s[kBK];
    float tmax = -INFINITY;
#pragma unroll
    for (int r = 0; r < kBK; ++r) {
      const int64_t kj = k0 + r;
      float part = 0.f;
#pragma unroll
      for (int j = 0; j < DPL; ++j) {
        const int64_t d = lane + 32 * j;
        if (d < hd) part += qr[j] * Ks[r][d];
      }
      part = warp_sum(part);
      const bool valid = kj < a.sk && (!a.causal || kj <= qi) && (!a.key_mask || a.key_mask[b * a.sk + kj] != 0.f);
      s[r] = valid ? part : -INFINITY;
      tmax = fmaxf(tmax, s[r]);
    }
    const float mnew = fmaxf(m, tmax);
    if (mnew == -INFINITY) continue;  // no visible key so far
    const float alpha = (m == -INFINITY) ? 0.f : exp2f(m - mnew);
    l *= alpha;
#pragma unroll
    for (int j = 0; j < DPL; ++j) acc[j] *= alpha;
#pragma unroll
    for (int r = 0; r < kBK; ++r) {
      const float p = (s[r] == -INFINITY) ? 0.f : exp2f(s[r] - mnew);
      l += p;
#pragma unroll
      for (int j = 0; j < DPL; ++j) {
        const int64_t d = lane + 32 * j;
        if (d < hd) acc[j] += p * Vs[r][d];
      }
    }
    m = mnew;
  }
  if (!active) return;
  const float inv = l > 0.f ? 1.f / l : 0.f;  // a row with every key masked gives zeros
  auto write = [&](auto* out) {
    using TO = std::remove_pointer_t<decltype(out)>;
#pragma unroll
    for (int j = 0; j < DPL; ++j) {
      const int64_t d = lane + 32 * j;
      if (d < hd) out[((b * a.sq + qi) * a.hq + h) * hd + d] = from_f32<TO>(acc[j] * inv);
    }
  };
  switch (a.tout) {
    case DType::BF16:
      write(static_cast<bf16*>(a.out));
      break;
    case DType::F16:
      write(static_cast<f16*>(a.out));
      break;
    default:
      write(static_cast<float*>(a.out));
      break;
  }
}

template <class T>
void launch_for_type(const AttentionArgs& a, cudaStream_t s) {
  const dim3 grid(unsigned((a.sq + kWarps - 1) / kWarps), unsigned(a.hq), unsigned(a.batch));
  const int64_t hd = a.hd;
  if (hd <= 32)
    attention_generic_kernel<T, 1><<<grid, kWarps * 32, 0, s>>>(a);
  else if (hd <= 64)
    attention_generic_kernel<T, 2><<<grid, kWarps * 32, 0, s>>>(a);
  else if (hd <= 128)
    attention_generic_kernel<T, 4><<<grid, kWarps * 32, 0, s>>>(a);
  else if (hd <= 256)
    attention_generic_kernel<T, 8><<<grid, kWarps * 32, 0, s>>>(a);
  else
    attention_generic_kernel<T, 16><<<grid, kWarps * 32, 0, s>>>(a);
}

}  // namespace

void launch_attention_generic(const AttentionArgs& a, cudaStream_t s) {
  if (a.batch * a.sq * a.hq * a.hd == 0) return;  // empty output (as on the CPU), nothing to launch
  if (a.hd < 1 || a.hd > kMaxD)
    fail("OVIS_BAD_ARGUMENT", "attention: head_dim " + std::to_string(a.hd) + " is outside 1..512 (CUDA backend)");
  if (a.hq > 65535 || a.batch > 65535) fail("OVIS_BAD_ARGUMENT", "attention: too many heads or batch items");
  require_float_dtype(a.tout);
  dispatch_float(a.t, [&](auto x) { launch_for_type<decltype(x)>(a, s); });
  CUDA_CHECK_LAUNCH();
}

}  // namespace ovis::cuda
