// Host entry points of the CUDA kernels (one .cu file per op, the launcher beside its kernel).
// Pointers are device memory, dtypes those of the tensors; math is f32 inside every kernel.
// Launchers check the launch and throw ovis::Error; shapes were validated by CudaBackend.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "core/tensor.h"

namespace ovis::cuda {

// ---- elementwise ----
// Expands n values of a ggml block format t (whole blocks) into y of float dtype ty.
void launch_dequantize(const void* x, DType t, void* y, DType ty, int64_t n, cudaStream_t s);
void launch_cast(const void* x, DType tx, void* y, DType ty, int64_t n, cudaStream_t s);
void launch_silu(const void* x, DType tx, void* y, DType ty, int64_t n, cudaStream_t s);
// x [rows, 2f] = [up | gate] -> y [rows, f] = up * silu(gate)
void launch_swiglu(const void* x, DType tx, void* y, DType ty, int64_t rows, int64_t f, cudaStream_t s);
void launch_add(void* x, DType tx, const void* y, DType ty, int64_t n, cudaStream_t s);
void launch_axpby(void* x, DType tx, float alpha, const void* y, DType ty, float beta, int64_t n, cudaStream_t s);
// x [b, seq, dim] += gate [b, dim] * y [b, seq, dim]
void launch_gated_add(void* x, DType tx, const void* gate, DType tg, const void* y, DType ty, int64_t batch,
                      int64_t seq, int64_t dim, cudaStream_t s);
// Adds bias [channels] to y [batch, channels, hw].
void launch_channel_bias(void* y, DType ty, const void* bias, DType tb, int64_t batch, int64_t channels, int64_t hw,
                         cudaStream_t s);
// Fills with uniform values in [-scale, scale) from a counter-based hash (benchmarks, tests).
void launch_fill_random(void* x, DType t, int64_t n, float scale, uint64_t seed, cudaStream_t s);

// ---- norms ----
// y = LN(x) * (1 + scale[b]) + shift[b] over the last dim; shift/scale may be null (plain LN).
void launch_layer_norm_mod(const void* x, DType tx, const void* shift, DType tshift, const void* scale, DType tscale,
                           void* y, DType ty, int64_t batch, int64_t seq, int64_t dim, float eps, cudaStream_t s);
void launch_rms_norm(const void* x, DType tx, const void* w, DType tw, void* y, DType ty, int64_t rows, int64_t dim,
                     float eps, cudaStream_t s);
// Scratch bytes launch_group_norm needs for this problem.
size_t group_norm_scratch_bytes(int64_t batch, int groups, int64_t channels, int64_t hw);
void launch_group_norm(const void* x, DType tx, const void* w, DType tw, const void* b, DType tb, void* y, DType ty,
                       int64_t batch, int64_t channels, int64_t hw, int groups, float eps, bool silu, void* scratch,
                       cudaStream_t s);

// ---- positions ----
// In place on x [batch, seq, heads, hd]; cos/sin f32 [seq, hd/2].
void launch_rope(void* x, DType tx, const float* cos, const float* sin, int64_t batch, int64_t seq, int64_t heads,
                 int64_t hd, bool interleaved, cudaStream_t s);

// ---- attention ----
struct AttentionArgs {
  const void* q = nullptr;  // [B, Sq, Hq, hd]
  const void* k = nullptr;  // [B, Sk, Hkv, hd]
  const void* v = nullptr;
  DType t = DType::F32;  // q, k and v share one dtype
  void* out = nullptr;   // [B, Sq, Hq, hd]
  DType tout = DType::F32;
  int64_t batch = 0, sq = 0, sk = 0, hq = 0, hkv = 0, hd = 0;
  float scale = 1.f;
  bool causal = false;
  const float* key_mask = nullptr;  // [B, Sk], 0 = masked key
};
// bf16 q/k/v/out, hd == 128, 16-byte aligned pointers: the tensor-core (wmma) flash kernel.
bool flash_attention_hd128_ok(const AttentionArgs& a);
// Raises the kernel's dynamic shared memory limit on the current device: once per backend, not per call.
void prepare_flash_attention_hd128();
void launch_flash_attention_hd128(const AttentionArgs& a, cudaStream_t s);
// bf16 q/k/v/out, hd 32, 64, 80 or 128, 16-byte aligned: the mma.sync kernel with K/V double-buffered
// by cp.async (attention_mma.cu), chosen with OVIS_ATTENTION=mma until a GPU has verified it.
bool attention_mma_ok(const AttentionArgs& a);
void prepare_attention_mma();  // once per backend, like prepare_flash_attention_hd128
void launch_attention_mma(const AttentionArgs& a, cudaStream_t s);
// Any float dtype, hd <= 512: f32 online softmax on CUDA cores.
void launch_attention_generic(const AttentionArgs& a, cudaStream_t s);

// ---- device ----
// Throws OVIS_UNAVAILABLE naming the arch when this binary holds no kernel image the current device
// can run (its arch was not in OVIS_CUDA_ARCHS).
void require_kernel_image_for(const cudaDeviceProp& prop, int device_index);

// ---- convolution / resampling / layout ----
// One image x [cin, h, w] -> rows p0..p0+pc of the im2row matrix [P, cin*kh*kw] (P = ho*wo output pixels).
void launch_im2row(const void* x, DType tx, void* col, DType tcol, int64_t cin, int64_t h, int64_t w, int kh, int kw,
                   int stride, int pad_top, int pad_left, int64_t wo, int64_t p0, int64_t pc, cudaStream_t s);
void launch_upsample_nearest2x(const void* x, DType tx, void* y, DType ty, int64_t planes, int64_t h, int64_t w,
                               cudaStream_t s);
// dst[r * dst_row + dst_off + c] = src[r * src_row + src_off + c] for r < rows, c < width (elements).
// I32 is copied bit for bit (both sides must then be I32).
void launch_copy_rows(const void* src, DType ts, int64_t src_row, int64_t src_off, void* dst, DType td, int64_t dst_row,
                      int64_t dst_off, int64_t rows, int64_t width, cudaStream_t s);
// x [batch, m, n] -> y [batch, n, m]
void launch_transpose_last2(const void* x, DType tx, void* y, DType ty, int64_t batch, int64_t m, int64_t n,
                            cudaStream_t s);
// y[i, :] = table[ids[i], :]; ids were range-checked by the caller.
void launch_embedding(const void* table, DType tt, const int32_t* ids, void* y, DType ty, int64_t count, int64_t hidden,
                      cudaStream_t s);

}  // namespace ovis::cuda
