// Round-to-nearest block quantizers; the byte layouts are the ones cpu/quant/dequantize.cpp reads.
#include "cpu/quant/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"

namespace ovis::cpu {

namespace {

void put_f16(uint8_t* p, float v) {
  const uint16_t h = f32_to_f16(v);
  p[0] = uint8_t(h & 0xFF);
  p[1] = uint8_t(h >> 8);
}

int nearest(float v) { return int(std::lrintf(v)); }

int clampi(int v, int lo, int hi) { return std::min(hi, std::max(lo, v)); }

// Symmetric: d = amax / 127.
void q8_0(const float* x, uint8_t* b) {
  float amax = 0.f;
  for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.f, id = d != 0.f ? 1.f / d : 0.f;
  put_f16(b, d);
  for (int j = 0; j < 32; ++j)
    b[2 + j] = uint8_t(int8_t(clampi(int(std::roundf(x[j] * id)), -127, 127)));  // ties away from 0, as ggml
}

// The value of largest magnitude maps to -8 (so its sign uses the longer half of [-8, 7]).
void q4_0(const float* x, uint8_t* b) {
  float amax = 0.f, max = 0.f;
  for (int j = 0; j < 32; ++j)
    if (std::fabs(x[j]) > amax) amax = std::fabs(x[j]), max = x[j];
  const float d = max / -8.f, id = d != 0.f ? 1.f / d : 0.f;
  put_f16(b, d);
  for (int j = 0; j < 16; ++j) {
    // ggml's (int)(x * id + 8.5): ties round up
    const int lo = clampi(int(std::floor(x[j] * id + 8.5f)), 0, 15),
              hi = clampi(int(std::floor(x[j + 16] * id + 8.5f)), 0, 15);
    b[2 + j] = uint8_t(lo | (hi << 4));
  }
}

// Packs 8 six-bit scales and mins into 12 bytes (inverse of the dequantizer's k_scale_min).
void pack_k_scales(const int* sc, const int* mn, uint8_t* s) {
  std::memset(s, 0, 12);
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      s[j] = uint8_t(sc[j]);
      s[j + 4] = uint8_t(mn[j]);
    } else {
      s[j + 4] = uint8_t((sc[j] & 0xF) | ((mn[j] & 0xF) << 4));
      s[j - 4] |= uint8_t((sc[j] >> 4) << 6);
      s[j] |= uint8_t((mn[j] >> 4) << 6);
    }
  }
}

// Q4_K (levels 15) and Q5_K (levels 31): 8 sub-blocks of 32 with scale and min, both 6-bit multiples of
// the super-block's d and dmin. Writes the integer values to q[256].
void k_asymmetric(const float* x, int levels, uint8_t* b, int* q) {
  float scale[8], minv[8], max_scale = 0.f, max_min = 0.f;
  for (int s = 0; s < 8; ++s) {
    const float* v = x + 32 * s;
    const float lo = std::min(0.f, *std::min_element(v, v + 32)), hi = *std::max_element(v, v + 32);
    scale[s] = (hi - lo) / float(levels);
    minv[s] = -lo;
    max_scale = std::max(max_scale, scale[s]);
    max_min = std::max(max_min, minv[s]);
  }
  const float d = max_scale / 63.f, dmin = max_min / 63.f;
  put_f16(b, d);
  put_f16(b + 2, dmin);
  const float dq = f16_to_f32(f32_to_f16(d)), dminq = f16_to_f32(f32_to_f16(dmin));  // what the reader sees
  int sc[8], mn[8];
  for (int s = 0; s < 8; ++s) {
    sc[s] = dq > 0.f ? clampi(nearest(scale[s] / dq), 0, 63) : 0;
    mn[s] = dminq > 0.f ? clampi(nearest(minv[s] / dminq), 0, 63) : 0;
    const float step = dq * float(sc[s]), offset = dminq * float(mn[s]);
    for (int l = 0; l < 32; ++l) {
      const int i = 32 * s + l;
      q[i] = step > 0.f ? clampi(nearest((x[i] + offset) / step), 0, levels) : 0;
    }
  }
  pack_k_scales(sc, mn, b + 4);
}

void q4_k(const float* x, uint8_t* b) {
  int q[256];
  k_asymmetric(x, 15, b, q);
  uint8_t* qs = b + 16;
  for (int p = 0; p < 4; ++p)
    for (int l = 0; l < 32; ++l) qs[32 * p + l] = uint8_t(q[64 * p + l] | (q[64 * p + 32 + l] << 4));
}

void q5_k(const float* x, uint8_t* b) {
  int q[256];
  k_asymmetric(x, 31, b, q);
  uint8_t* qh = b + 16;
  uint8_t* qs = b + 48;
  std::memset(qh, 0, 32);
  for (int p = 0; p < 4; ++p)
    for (int l = 0; l < 32; ++l) {
      const int lo = q[64 * p + l], hi = q[64 * p + 32 + l];
      qs[32 * p + l] = uint8_t((lo & 0xF) | ((hi & 0xF) << 4));
      qh[l] |= uint8_t(((lo >> 4) << (2 * p)) | ((hi >> 4) << (2 * p + 1)));
    }
}

// 16 sub-blocks of 16 with int8 scales (multiples of d); values in [-32, 31].
void q6_k(const float* x, uint8_t* b) {
  float scale[16], amax_scale = 0.f, max_scale = 0.f;
  for (int s = 0; s < 16; ++s) {
    float amax = 0.f, max = 0.f;
    for (int l = 0; l < 16; ++l)
      if (std::fabs(x[16 * s + l]) > amax) amax = std::fabs(x[16 * s + l]), max = x[16 * s + l];
    scale[s] = max / -32.f;
    if (std::fabs(scale[s]) > amax_scale) amax_scale = std::fabs(scale[s]), max_scale = scale[s];
  }
  const float d = max_scale / -128.f;
  put_f16(b + 208, d);
  const float dq = f16_to_f32(f32_to_f16(d));
  int8_t* sc = reinterpret_cast<int8_t*>(b + 192);
  int q[256];
  for (int s = 0; s < 16; ++s) {
    sc[s] = int8_t(dq != 0.f ? clampi(nearest(scale[s] / dq), -128, 127) : 0);
    const float step = dq * float(sc[s]);
    for (int l = 0; l < 16; ++l) q[16 * s + l] = step != 0.f ? clampi(nearest(x[16 * s + l] / step), -32, 31) + 32 : 32;
  }
  for (int h = 0; h < 2; ++h) {
    uint8_t* ql = b + 64 * h;
    uint8_t* qh = b + 128 + 32 * h;
    const int* v = q + 128 * h;
    for (int l = 0; l < 32; ++l) {
      ql[l] = uint8_t((v[l] & 0xF) | ((v[l + 64] & 0xF) << 4));
      ql[l + 32] = uint8_t((v[l + 32] & 0xF) | ((v[l + 96] & 0xF) << 4));
      qh[l] = uint8_t((v[l] >> 4) | ((v[l + 32] >> 4) << 2) | ((v[l + 64] >> 4) << 4) | ((v[l + 96] >> 4) << 6));
    }
  }
}

using BlockFn = void (*)(const float*, uint8_t*);

BlockFn block_fn(DType t) {
  switch (t) {
    case DType::Q8_0:
      return q8_0;
    case DType::Q4_0:
      return q4_0;
    case DType::Q4_K:
      return q4_k;
    case DType::Q5_K:
      return q5_k;
    case DType::Q6_K:
      return q6_k;
    default:
      return nullptr;
  }
}

}  // namespace

bool can_quantize(DType t) { return block_fn(t) != nullptr; }

void quantize_values(DType t, const float* src, void* dst, int64_t n) {
  const BlockFn fn = block_fn(t);
  if (!fn)
    fail("OVIS_BAD_WEIGHTS",
         std::string("cannot quantize to ") + dtype_name(t) + " (q8_0, q4_0, q4_k, q5_k and q6_k can be made on load)");
  dtype_bytes(t, n);  // checks n is whole blocks
  const size_t bytes = dtype_block_bytes(t);
  const int64_t elems = dtype_block_elems(t);
  uint8_t* out = static_cast<uint8_t*>(dst);
  for (int64_t i = 0; i < n / elems; ++i) fn(src + i * elems, out + size_t(i) * bytes);
}

}  // namespace ovis::cpu
