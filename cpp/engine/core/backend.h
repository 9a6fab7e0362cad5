// Backend: the ops the three networks need, implemented once per device (cpp/cpu, cuda/).
// Model code (cpp/engine/model) only talks to this interface, so CPU and CUDA run the same graph.
//
// Conventions
// - Tensors are contiguous row-major; activations are F32 unless the backend chooses otherwise
//   (a bf16 CUDA path may keep activations in BF16: compare results, not dtypes).
// - Weights may be F32, F16 or BF16 (as stored); every op that takes a weight accepts all three.
// - Ops return fresh tensors unless the name ends in `_`, which writes into its first argument.
// - Leading dimensions are flattened where an op says "[..., K]".
// - Every op validates its arguments in one place (the fronts below) and throws
//   ovis::Error("OVIS_BAD_ARGUMENT", ...) naming the op and the argument on mismatch.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "core/tensor.h"

namespace ovis {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;  // "cpu", "cuda:0"
  virtual DeviceKind device() const = 0;

  // ---- memory -------------------------------------------------------------------------------
  virtual Tensor alloc(const Shape& s, DType t) = 0;  // uninitialised
  // Copies a host tensor (any dtype) to the device, keeping its dtype. On the CPU backend this may
  // return a view of the same memory (weights stay memory-mapped).
  virtual Tensor upload(const Tensor& host) = 0;
  // Uploads a weight: like upload, but the backend may store it once in the dtype its kernels read
  // (CUDA: bf16 in bf16 mode, f32 in fp32 mode) so no op converts it per call.
  virtual Tensor upload_weight(const Tensor& host) { return upload(host); }
  // Copies to a new host F32 tensor (converting from any float dtype).
  virtual Tensor to_host_f32(const Tensor& t) = 0;
  // Converts dtype on the device (F32 <-> BF16 <-> F16). Returns t itself when already of that dtype.
  Tensor cast(const Tensor& t, DType to);
  // Waits for queued work (no-op on the CPU).
  virtual void sync() {}
  // Returns cached free memory (backends keep freed blocks for reuse: CUDA device memory, the CPU's
  // large output blocks) to the driver / OS. Waits for queued work first. Live tensors stay.
  virtual void trim() {}
  // Bytes the backend could still allocate now (CPU: the memory the OS reports available; CUDA: the
  // device's free memory plus this backend's cached free blocks). What 'auto' VAE tiling plans with.
  virtual size_t free_memory() { return SIZE_MAX; }

  // Calls that took a path a full-size model must not take (CUDA: a large GEMM on the naive kernel,
  // attention off the flash kernel); tests fail when this is not 0. path_counts() lists every path.
  virtual int64_t slow_path_calls() const { return 0; }
  virtual std::string path_counts() const { return ""; }

  // ---- streaming weights (layer offload) ------------------------------------------------------
  // Fronts like the ops below: each checks where its tensor lives, then calls its do_*.
  // A host copy of t (on this backend) keeping its dtype (CPU: t itself; a device backend copies it back).
  Tensor download(const Tensor& t);
  // A host copy of a host tensor the backend can upload from asynchronously (CUDA: page-locked memory).
  Tensor pin_host(const Tensor& host);
  // Starts copying a host tensor to the device on a copy stream, after the work queued so far (its
  // memory may have just been freed by that work), and returns the device tensor. Ops may use it only
  // after await_upload(t).
  Tensor upload_async(const Tensor& host);
  // Makes work queued from now on wait until the upload of t (a tensor on this backend) is complete.
  void await_upload(const Tensor& t);

  // The ops below are non-virtual fronts (core/backend_front.cpp): each checks its arguments once for
  // every backend (defined, on this backend's device, dtypes, shapes) and then calls the device's
  // do_* implementation, which may assume valid arguments.

  // ---- dense --------------------------------------------------------------------------------
  // y[..., N] = x[..., K] · w[N, K]^T (+ bias[N]). w: any weight dtype (is_weight_dtype).
  Tensor linear(const Tensor& x, const Tensor& w, const Tensor* bias);
  // out[i, :] = table[ids[i], :] for ids (I32) of any shape (rank <= 5); out shape = ids.shape + [H].
  Tensor embedding(const Tensor& table, const Tensor& ids);

  // ---- elementwise / norms ------------------------------------------------------------------
  Tensor silu(const Tensor& x);
  // x[..., 2F] = [up | gate] -> up * silu(gate), shape [..., F].
  Tensor swiglu(const Tensor& x);
  // x += y (same shape).
  void add_(Tensor& x, const Tensor& y);
  // x[b, s, :] += gate[b, :] * y[b, s, :] for x,y [B, S, D] and gate [B, D] (a row of a larger
  // modulation tensor is fine: gate may be any [B, D] view, see `slice`).
  void gated_add_(Tensor& x, const Tensor& gate, const Tensor& y);
  // x = x * alpha + y * beta (same shape), in F32 math (used for CFG and Euler steps on latents).
  void axpby_(Tensor& x, float alpha, const Tensor& y, float beta);
  // LayerNorm without affine over the last dim D of x [B, S, D], then optional modulation:
  // out = LN(x) * (1 + scale[b]) + shift[b] with shift, scale [B, D] (both null = plain LN, any rank).
  Tensor layer_norm_mod(const Tensor& x, const Tensor* shift, const Tensor* scale, float eps);
  // RMSNorm over the last dim d of x [..., d] with weight w [d]: x / sqrt(mean(x^2) + eps) * w.
  Tensor rms_norm(const Tensor& x, const Tensor& w, float eps);
  // GroupNorm over x [B, C, H, W] (groups divide C), affine w, b [C]; optional fused SiLU after it.
  Tensor group_norm(const Tensor& x, const Tensor& w, const Tensor& b, int groups, float eps, bool silu);

  // ---- positions ----------------------------------------------------------------------------
  // Rotary embedding in place on x [B, S, H, hd] with tables cos, sin [S, hd/2] (F32):
  // interleaved: pairs (2i, 2i+1) rotate by angle index i        (MMDiT);
  // half:        pairs (i, i + hd/2) rotate by angle index i      (Qwen3 "rotate_half").
  void rope_interleaved_(Tensor& x, const Tensor& cos, const Tensor& sin);
  void rope_half_(Tensor& x, const Tensor& cos, const Tensor& sin);

  // ---- attention ----------------------------------------------------------------------------
  // q [B, Sq, Hq, hd], k/v [B, Sk, Hkv, hd] with Hq % Hkv == 0 (query head h uses kv head h / (Hq/Hkv)).
  // causal: query i sees keys j <= i (Sq == Sk). key_mask: optional [B, Sk] float, 0 = masked key.
  // A query row whose keys are all masked gives zeros. Returns [B, Sq, Hq, hd].
  Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale, bool causal, const Tensor* key_mask);

  // ---- convolution / resampling (NCHW) ------------------------------------------------------
  // x [B, Cin, H, W], w [Cout, Cin, kh, kw], bias [Cout] or null; zero padding (top, left, bottom, right).
  Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, int stride, int pad_top, int pad_left,
                int pad_bottom, int pad_right);
  Tensor upsample_nearest2x(const Tensor& x);  // [B, C, H, W] -> [B, C, 2H, 2W]

  // ---- layout -------------------------------------------------------------------------------
  // Concatenates a and b (same dtype) along `axis` (all other dims equal).
  Tensor concat(const Tensor& a, const Tensor& b, int axis);
  // Copies x[..., start:start+len, ...] along `axis`.
  Tensor slice(const Tensor& x, int axis, int64_t start, int64_t len);
  // Swaps the last two dims of x [..., M, N] -> [..., N, M] (NCHW <-> token-major for the VAE attention).
  Tensor transpose_last2(const Tensor& x);

 protected:
  // Per-device implementations, called by the fronts above with checked arguments. `axis` arguments
  // arrive normalised (0 <= axis < rank).
  virtual Tensor do_cast(const Tensor& t, DType to) = 0;
  virtual Tensor do_linear(const Tensor& x, const Tensor& w, const Tensor* bias) = 0;
  virtual Tensor do_embedding(const Tensor& table, const Tensor& ids) = 0;
  virtual Tensor do_silu(const Tensor& x) = 0;
  virtual Tensor do_swiglu(const Tensor& x) = 0;
  virtual void do_add_(Tensor& x, const Tensor& y) = 0;
  virtual void do_gated_add_(Tensor& x, const Tensor& gate, const Tensor& y) = 0;
  virtual void do_axpby_(Tensor& x, float alpha, const Tensor& y, float beta) = 0;
  virtual Tensor do_layer_norm_mod(const Tensor& x, const Tensor* shift, const Tensor* scale, float eps) = 0;
  virtual Tensor do_rms_norm(const Tensor& x, const Tensor& w, float eps) = 0;
  virtual Tensor do_group_norm(const Tensor& x, const Tensor& w, const Tensor& b, int groups, float eps, bool silu) = 0;
  virtual void do_rope_(Tensor& x, const Tensor& cos, const Tensor& sin, bool interleaved) = 0;
  virtual Tensor do_attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale, bool causal,
                              const Tensor* key_mask) = 0;
  virtual Tensor do_conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, int stride, int pad_top, int pad_left,
                           int pad_bottom, int pad_right) = 0;
  virtual Tensor do_upsample_nearest2x(const Tensor& x) = 0;
  virtual Tensor do_concat(const Tensor& a, const Tensor& b, int axis) = 0;
  virtual Tensor do_slice(const Tensor& x, int axis, int64_t start, int64_t len) = 0;
  virtual Tensor do_transpose_last2(const Tensor& x) = 0;
  virtual Tensor do_download(const Tensor& t) = 0;
  // Defaults for backends without a copy stream: the host tensor as is, a plain upload, no wait.
  virtual Tensor do_pin_host(const Tensor& host) { return host; }
  virtual Tensor do_upload_async(const Tensor& host) { return upload(host); }
  virtual void do_await_upload(const Tensor& t) { (void)t; }

 private:
  void rope_front(Tensor& x, const Tensor& cos, const Tensor& sin, bool interleaved, const char* op);
};

// The dtypes `linear`, `conv2d` and `embedding` accept for their weights: the one list a new weight
// dtype (e.g. a quantized block type) is added to.
bool is_weight_dtype(DType t);

struct BackendOptions {
  std::string device = "cpu";  // "cpu", "cuda", "cuda:N"
  int threads = 0;             // CPU threads; 0 = all cores
  bool fp32 = false;           // CUDA: f32 activations and GEMMs (no TF32) instead of bf16
  // CPU: bf16 products (f32 accumulation) in the linear layers and attention where the CPU has
  // AVX512-BF16, else f32.
  // Off by default: the CPU computes in f32 unless asked.
  bool cpu_bf16 = false;
};

// Creates the backend for opts.device; throws Error("OVIS_UNAVAILABLE") when not built or no device.
std::unique_ptr<Backend> create_backend(const BackendOptions& opts);
std::unique_ptr<Backend> create_cpu_backend(int threads, bool bf16 = false);
#ifdef OVIS_WITH_CUDA
std::unique_ptr<Backend> create_cuda_backend(int device_index, bool fp32);
// CUDA devices visible to this process (0 when there is no driver); implemented by the CUDA backend.
int cuda_device_count();
#endif

}  // namespace ovis
