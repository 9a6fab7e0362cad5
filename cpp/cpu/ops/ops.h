// The CPU implementations of the Backend ops (one file each under cpu/ops/). CpuBackend forwards here.
// Semantics are those documented in core/backend.h; arguments were checked by the Backend fronts
// (core/backend_front.cpp), and activation inputs arrive as f32 (CpuBackend converts others).
#pragma once
#include "core/tensor.h"

namespace ovis::cpu {

class ThreadPool;

Tensor op_cast(ThreadPool& pool, const Tensor& t, DType to);
Tensor op_to_host_f32(ThreadPool& pool, const Tensor& t);
// bf16: bf16 products with f32 accumulation where the CPU has AVX512-BF16 (gemm_bf16.h), else f32.
Tensor op_linear(ThreadPool& pool, const Tensor& x, const Tensor& w, const Tensor* bias, bool bf16 = false);
Tensor op_embedding(ThreadPool& pool, const Tensor& table, const Tensor& ids);
Tensor op_silu(ThreadPool& pool, const Tensor& x);
Tensor op_swiglu(ThreadPool& pool, const Tensor& x);
void op_add_(ThreadPool& pool, Tensor& x, const Tensor& y);
void op_gated_add_(ThreadPool& pool, Tensor& x, const Tensor& gate, const Tensor& y);
void op_axpby_(ThreadPool& pool, Tensor& x, float alpha, const Tensor& y, float beta);
Tensor op_layer_norm_mod(ThreadPool& pool, const Tensor& x, const Tensor* shift, const Tensor* scale, float eps);
Tensor op_rms_norm(ThreadPool& pool, const Tensor& x, const Tensor& w, float eps);
Tensor op_group_norm(ThreadPool& pool, const Tensor& x, const Tensor& w, const Tensor& b, int groups, float eps,
                     bool silu);
void op_rope_(ThreadPool& pool, Tensor& x, const Tensor& cos, const Tensor& sin, bool interleaved);
Tensor op_attention(ThreadPool& pool, const Tensor& q, const Tensor& k, const Tensor& v, float scale, bool causal,
                    const Tensor* key_mask);
// The same with bf16 Q K^T and P V products (f32 softmax and accumulation) where the CPU has
// AVX512-BF16, else op_attention (precision 'bf16').
Tensor op_attention_bf16(ThreadPool& pool, const Tensor& q, const Tensor& k, const Tensor& v, float scale, bool causal,
                         const Tensor* key_mask);
Tensor op_conv2d(ThreadPool& pool, const Tensor& x, const Tensor& w, const Tensor* bias, int stride, int pad_top,
                 int pad_left, int pad_bottom, int pad_right);
Tensor op_upsample_nearest2x(ThreadPool& pool, const Tensor& x);
Tensor op_concat(ThreadPool& pool, const Tensor& a, const Tensor& b, int axis);
Tensor op_slice(ThreadPool& pool, const Tensor& x, int axis, int64_t start, int64_t len);
Tensor op_transpose_last2(ThreadPool& pool, const Tensor& x);

}  // namespace ovis::cpu
