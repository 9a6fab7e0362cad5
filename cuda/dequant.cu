// dequantize: ggml block formats (Q4_0 ... Q6_K) to bf16/f16/f32, one thread per block. Used by linear
// to expand one layer's weight into a scratch matrix for cuBLASLt. The math is that of
// cpu/quant/dequantize.cpp (same f32 operations in the same order), so values equal the CPU's.
#include "cuda_common.cuh"
#include "launchers.h"

namespace ovis::cuda {

namespace {

__device__ __forceinline__ float f16_at(const uint8_t* p) {
  return __half2float(__ushort_as_half(static_cast<unsigned short>(p[0] | (p[1] << 8))));
}
__device__ __forceinline__ uint32_t u32_at(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
// Products and differences are rounded separately (no fused multiply-add), as on the CPU.
__device__ __forceinline__ float mul(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ float sub(float a, float b) { return __fsub_rn(a, b); }
__device__ __forceinline__ float add(float a, float b) { return __fadd_rn(a, b); }

template <class T>
__device__ void q4_0(const uint8_t* b, T* y) {
  const float d = f16_at(b);
  for (int j = 0; j < 16; ++j) {
    y[j] = from_f32<T>(mul(float((b[2 + j] & 0xF) - 8), d));
    y[j + 16] = from_f32<T>(mul(float((b[2 + j] >> 4) - 8), d));
  }
}
template <class T>
__device__ void q4_1(const uint8_t* b, T* y) {
  const float d = f16_at(b), m = f16_at(b + 2);
  for (int j = 0; j < 16; ++j) {
    y[j] = from_f32<T>(add(mul(float(b[4 + j] & 0xF), d), m));
    y[j + 16] = from_f32<T>(add(mul(float(b[4 + j] >> 4), d), m));
  }
}
template <class T>
__device__ void q5(const uint8_t* b, T* y, bool with_min) {
  const float d = f16_at(b), m = with_min ? f16_at(b + 2) : 0.f;
  const uint32_t qh = u32_at(b + (with_min ? 4 : 2));
  const uint8_t* qs = b + (with_min ? 8 : 6);
  const int offset = with_min ? 0 : 16;
  for (int j = 0; j < 16; ++j) {
    const int lo = int((qs[j] & 0xF) | (((qh >> j) & 1u) << 4)) - offset;
    const int hi = int((qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4)) - offset;
    y[j] = from_f32<T>(with_min ? add(mul(float(lo), d), m) : mul(float(lo), d));
    y[j + 16] = from_f32<T>(with_min ? add(mul(float(hi), d), m) : mul(float(hi), d));
  }
}
template <class T>
__device__ void q8_0(const uint8_t* b, T* y) {
  const float d = f16_at(b);
  for (int j = 0; j < 32; ++j) y[j] = from_f32<T>(mul(float(int8_t(b[2 + j])), d));
}
template <class T>
__device__ void q2_k(const uint8_t* b, T* y) {
  const float d = f16_at(b + 80), dmin = f16_at(b + 82);
  int is = 0;
  for (int half = 0; half < 2; ++half)
    for (int shift = 0; shift < 8; shift += 2)
      for (int part = 0; part < 2; ++part) {
        const uint8_t sc = b[is++];
        const float dl = mul(d, float(sc & 0xF)), ml = mul(dmin, float(sc >> 4));
        const uint8_t* q = b + 16 + 32 * half + 16 * part;
        for (int l = 0; l < 16; ++l) *y++ = from_f32<T>(sub(mul(dl, float((q[l] >> shift) & 3)), ml));
      }
}
__device__ __forceinline__ int q3_k_scale(const uint8_t* s, int i) {
  const int low = i < 8 ? (s[i] & 0xF) : (s[i - 8] >> 4);
  const int high = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
  return (low | (high << 4)) - 32;
}
template <class T>
__device__ void q3_k(const uint8_t* b, T* y) {
  const float d = f16_at(b + 108);
  int is = 0;
  uint8_t bit = 1;
  for (int half = 0; half < 2; ++half)
    for (int shift = 0; shift < 8; shift += 2, bit = uint8_t(bit << 1))
      for (int part = 0; part < 2; ++part) {
        const float dl = mul(d, float(q3_k_scale(b + 96, is++)));
        for (int l = 0; l < 16; ++l) {
          const int k = l + 16 * part;
          const int q = ((b[32 + 32 * half + k] >> shift) & 3) - ((b[k] & bit) ? 0 : 4);
          *y++ = from_f32<T>(mul(dl, float(q)));
        }
      }
}
__device__ __forceinline__ void k_scale_min(const uint8_t* s, int j, int& sc, int& mn) {
  if (j < 4) {
    sc = s[j] & 63;
    mn = s[j + 4] & 63;
  } else {
    sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
    mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}
template <class T>
__device__ void q45_k(const uint8_t* b, T* y, const uint8_t* qh, const uint8_t* qs) {
  const float d = f16_at(b), dmin = f16_at(b + 2);
  for (int pair = 0; pair < 4; ++pair) {
    int sc0, mn0, sc1, mn1;
    k_scale_min(b + 4, 2 * pair, sc0, mn0);
    k_scale_min(b + 4, 2 * pair + 1, sc1, mn1);
    const float d0 = mul(d, float(sc0)), m0 = mul(dmin, float(mn0)), d1 = mul(d, float(sc1)),
                m1 = mul(dmin, float(mn1));
    const uint8_t* q = qs + 32 * pair;
    const uint8_t lo_bit = uint8_t(1u << (2 * pair)), hi_bit = uint8_t(2u << (2 * pair));
    for (int l = 0; l < 32; ++l)
      *y++ = from_f32<T>(sub(mul(d0, float((q[l] & 0xF) + (qh && (qh[l] & lo_bit) ? 16 : 0))), m0));
    for (int l = 0; l < 32; ++l)
      *y++ = from_f32<T>(sub(mul(d1, float((q[l] >> 4) + (qh && (qh[l] & hi_bit) ? 16 : 0))), m1));
  }
}
template <class T>
__device__ void q6_k(const uint8_t* b, T* y) {
  const float d = f16_at(b + 208);
  for (int half = 0; half < 2; ++half) {
    const uint8_t* ql = b + 64 * half;
    const uint8_t* qh = b + 128 + 32 * half;
    const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192) + 8 * half;
    T* out = y + 128 * half;
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = int((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = int((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = int((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = int((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      out[l] = from_f32<T>(mul(mul(d, float(sc[is])), float(q1)));
      out[l + 32] = from_f32<T>(mul(mul(d, float(sc[is + 2])), float(q2)));
      out[l + 64] = from_f32<T>(mul(mul(d, float(sc[is + 4])), float(q3)));
      out[l + 96] = from_f32<T>(mul(mul(d, float(sc[is + 6])), float(q4)));
    }
  }
}

template <class T>
__global__ void dequant_kernel(const uint8_t* src, DType t, T* dst, int64_t nblocks, int64_t block_bytes,
                               int64_t block_elems) {
  OVIS_GRID_LOOP(i, nblocks) {
    const uint8_t* b = src + i * block_bytes;
    T* y = dst + i * block_elems;
    switch (t) {
      case DType::Q4_0:
        q4_0(b, y);
        break;
      case DType::Q4_1:
        q4_1(b, y);
        break;
      case DType::Q5_0:
        q5(b, y, false);
        break;
      case DType::Q5_1:
        q5(b, y, true);
        break;
      case DType::Q8_0:
        q8_0(b, y);
        break;
      case DType::Q2_K:
        q2_k(b, y);
        break;
      case DType::Q3_K:
        q3_k(b, y);
        break;
      case DType::Q4_K:
        q45_k(b, y, nullptr, b + 16);
        break;
      case DType::Q5_K:
        q45_k(b, y, b + 16, b + 48);
        break;
      case DType::Q6_K:
        q6_k(b, y);
        break;
      default:
        break;
    }
  }
}

}  // namespace

void launch_dequantize(const void* src, DType t, void* dst, DType ty, int64_t n, cudaStream_t s) {
  if (n == 0) return;
  if (!dtype_is_quantized(t))
    fail("OVIS_BAD_ARGUMENT", std::string("dequantize: ") + dtype_name(t) + " is not a block format");
  const int64_t elems = dtype_block_elems(t), nblocks = int64_t(dtype_bytes(t, n) / dtype_block_bytes(t));
  dispatch_float(ty, [&](auto v) {
    using T = decltype(v);
    dequant_kernel<T><<<grid_for(nblocks), kThreads, 0, s>>>(static_cast<const uint8_t*>(src), t, static_cast<T*>(dst),
                                                             nblocks, int64_t(dtype_block_bytes(t)), elems);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace ovis::cuda
