// Block dequantizers, one per ggml format. Byte layouts (little-endian, f16 scales):
//   Q4_0 [d][16 nibble bytes]            Q4_1 [d][m][16]          Q8_0 [d][32 int8]
//   Q5_0 [d][qh u32][16]                 Q5_1 [d][m][qh u32][16]
//   Q2_K [scales 16][qs 64][d][dmin]     Q3_K [hmask 32][qs 64][scales 12][d]
//   Q4_K [d][dmin][scales 12][qs 128]    Q5_K [d][dmin][scales 12][qh 32][qs 128]
//   Q6_K [ql 128][qh 64][scales 16 int8][d]
// Products are written as the reference writes them ((d * scale) * q, then - min) so that every value
// is bit-identical to it.
#include "cpu/quant/dequantize.h"

#include <cstring>

#include "core/error.h"

namespace ovis::cpu {

namespace {

float f16_at(const uint8_t* p) { return f16_to_f32(uint16_t(p[0] | (p[1] << 8))); }

uint32_t u32_at(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

void q4_0(const uint8_t* b, float* y) {
  const float d = f16_at(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = float((qs[j] & 0xF) - 8) * d;
    y[j + 16] = float((qs[j] >> 4) - 8) * d;
  }
}

void q4_1(const uint8_t* b, float* y) {
  const float d = f16_at(b), m = f16_at(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = float(qs[j] & 0xF) * d + m;
    y[j + 16] = float(qs[j] >> 4) * d + m;
  }
}

// The fifth bit of value j comes from bit j of qh (values 0..15) or bit j + 16 (values 16..31).
void q5_0(const uint8_t* b, float* y) {
  const float d = f16_at(b);
  const uint32_t qh = u32_at(b + 2);
  const uint8_t* qs = b + 6;
  for (int j = 0; j < 16; ++j) {
    const int lo = int((qs[j] & 0xF) | (((qh >> j) & 1u) << 4)) - 16;
    const int hi = int((qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4)) - 16;
    y[j] = float(lo) * d;
    y[j + 16] = float(hi) * d;
  }
}

void q5_1(const uint8_t* b, float* y) {
  const float d = f16_at(b), m = f16_at(b + 2);
  const uint32_t qh = u32_at(b + 4);
  const uint8_t* qs = b + 8;
  for (int j = 0; j < 16; ++j) {
    const int lo = int((qs[j] & 0xF) | (((qh >> j) & 1u) << 4));
    const int hi = int((qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4));
    y[j] = float(lo) * d + m;
    y[j + 16] = float(hi) * d + m;
  }
}

void q8_0(const uint8_t* b, float* y) {
  const float d = f16_at(b);
  const int8_t* qs = reinterpret_cast<const int8_t*>(b + 2);
  for (int j = 0; j < 32; ++j) y[j] = float(qs[j]) * d;
}

// 16 sub-blocks of 16; scale byte = 4-bit scale | 4-bit min; values are 2-bit fields of qs.
void q2_k(const uint8_t* b, float* y) {
  const uint8_t* scales = b;
  const uint8_t* qs = b + 16;
  const float d = f16_at(b + 80), dmin = f16_at(b + 82);
  for (int half = 0; half < 2; ++half) {
    const uint8_t* q = qs + 32 * half;
    for (int shift = 0; shift < 8; shift += 2) {
      for (int part = 0; part < 2; ++part) {
        const uint8_t sc = *scales++;
        const float dl = d * float(sc & 0xF), ml = dmin * float(sc >> 4);
        for (int l = 0; l < 16; ++l) *y++ = dl * float((q[l + 16 * part] >> shift) & 3) - ml;
      }
    }
  }
}

// Sub-block i's 6-bit scale: low 4 bits in scales[i % 8] (low or high nibble), high 2 bits in scales[8 + i % 4].
int q3_k_scale(const uint8_t* s, int i) {
  const int low = i < 8 ? (s[i] & 0xF) : (s[i - 8] >> 4);
  const int high = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
  return (low | (high << 4)) - 32;
}

// 16 sub-blocks of 16; values = 2 low bits from qs, minus 4 unless the hmask bit is set.
void q3_k(const uint8_t* b, float* y) {
  const uint8_t* hmask = b;
  const uint8_t* qs = b + 32;
  const uint8_t* scales = b + 96;
  const float d = f16_at(b + 108);
  int is = 0;
  uint8_t bit = 1;
  for (int half = 0; half < 2; ++half) {
    const uint8_t* q = qs + 32 * half;
    for (int shift = 0; shift < 8; shift += 2, bit = uint8_t(bit << 1)) {
      for (int part = 0; part < 2; ++part) {
        const float dl = d * float(q3_k_scale(scales, is++));
        for (int l = 0; l < 16; ++l) {
          const int k = l + 16 * part;
          *y++ = dl * float(((q[k] >> shift) & 3) - ((hmask[k] & bit) ? 0 : 4));
        }
      }
    }
  }
}

// The 6-bit scale and min of sub-block j (of 8) packed in 12 bytes (Q4_K, Q5_K).
void k_scale_min(const uint8_t* s, int j, int& sc, int& mn) {
  if (j < 4) {
    sc = s[j] & 63;
    mn = s[j + 4] & 63;
  } else {
    sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
    mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// 8 sub-blocks of 32: value = (d * scale) * q - (dmin * min), q 4 bits (+16 from qh for Q5_K).
void q45_k(const uint8_t* b, float* y, const uint8_t* qh, const uint8_t* qs) {
  const float d = f16_at(b), dmin = f16_at(b + 2);
  const uint8_t* scales = b + 4;
  for (int pair = 0; pair < 4; ++pair) {
    int sc0, mn0, sc1, mn1;
    k_scale_min(scales, 2 * pair, sc0, mn0);
    k_scale_min(scales, 2 * pair + 1, sc1, mn1);
    const float d0 = d * float(sc0), m0 = dmin * float(mn0), d1 = d * float(sc1), m1 = dmin * float(mn1);
    const uint8_t* q = qs + 32 * pair;
    const uint8_t lo_bit = uint8_t(1u << (2 * pair)), hi_bit = uint8_t(2u << (2 * pair));
    for (int l = 0; l < 32; ++l) *y++ = d0 * float((q[l] & 0xF) + (qh && (qh[l] & lo_bit) ? 16 : 0)) - m0;
    for (int l = 0; l < 32; ++l) *y++ = d1 * float((q[l] >> 4) + (qh && (qh[l] & hi_bit) ? 16 : 0)) - m1;
  }
}

void q4_k(const uint8_t* b, float* y) { q45_k(b, y, nullptr, b + 16); }
void q5_k(const uint8_t* b, float* y) { q45_k(b, y, b + 16, b + 48); }

// 16 sub-blocks of 16 with int8 scales; 6-bit values = 4 bits of ql + 2 bits of qh, minus 32.
void q6_k(const uint8_t* b, float* y) {
  const float d = f16_at(b + 208);
  for (int half = 0; half < 2; ++half) {
    const uint8_t* ql = b + 64 * half;
    const uint8_t* qh = b + 128 + 32 * half;
    const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192) + 8 * half;
    float* out = y + 128 * half;
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = int((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = int((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = int((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = int((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      out[l] = d * float(sc[is]) * float(q1);
      out[l + 32] = d * float(sc[is + 2]) * float(q2);
      out[l + 64] = d * float(sc[is + 4]) * float(q3);
      out[l + 96] = d * float(sc[is + 6]) * float(q4);
    }
  }
}

using BlockFn = void (*)(const uint8_t*, float*);

BlockFn block_fn(DType t) {
  switch (t) {
    case DType::Q4_0:
      return q4_0;
    case DType::Q4_1:
      return q4_1;
    case DType::Q5_0:
      return q5_0;
    case DType::Q5_1:
      return q5_1;
    case DType::Q8_0:
      return q8_0;
    case DType::Q2_K:
      return q2_k;
    case DType::Q3_K:
      return q3_k;
    case DType::Q4_K:
      return q4_k;
    case DType::Q5_K:
      return q5_k;
    case DType::Q6_K:
      return q6_k;
    default:
      fail("OVIS_INTERNAL", std::string("dequantize: ") + dtype_name(t) + " is not a block format");
  }
}

}  // namespace

void dequantize_blocks(DType t, const void* src, float* dst, int64_t nblocks) {
  const BlockFn fn = block_fn(t);
  const size_t bytes = dtype_block_bytes(t);
  const int64_t elems = dtype_block_elems(t);
  const uint8_t* p = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < nblocks; ++i) fn(p + size_t(i) * bytes, dst + i * elems);
}

void weights_to_f32(const void* src, DType t, float* dst, int64_t n) {
  if (!dtype_is_quantized(t)) return convert_to_f32(src, t, dst, size_t(n));
  dtype_bytes(t, n);  // checks n is whole blocks
  dequantize_blocks(t, src, dst, n / dtype_block_elems(t));
}

}  // namespace ovis::cpu
