// CudaBackend: dtype policy and dispatch to the kernels in this folder. Argument checks live in the
// Backend fronts (core/backend_front.cpp); each do_* here assumes them.
#include "cuda_backend.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "attention.h"
#include "conv2d.h"
#include "core/error.h"
#include "cublaslt_loader.h"
#include "cuda_check.h"
#include "launchers.h"

namespace ovis {
namespace cuda {
namespace {
bool is_float(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }
}  // namespace

CudaBackend::CudaBackend(int device, bool fp32, const CublasLtApi& lt) : device_(device), fp32_(fp32) {
  CUDA_CHECK(cudaSetDevice(device_));
  prepare_flash_attention_hd128();  // once per backend, not per call
  prepare_attention_mma();
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  alloc_ = std::make_shared<DeviceAllocator>(device_);
  try {
    gemm_ = std::make_unique<GemmRunner>(lt, stream_, alloc_, stats_);
  } catch (...) {
    cudaStreamDestroy(stream_);
    throw;
  }
}

CudaBackend::~CudaBackend() {
  cudaSetDevice(device_);
  cudaStreamSynchronize(stream_);
  destroy_copy_stream();
  gemm_.reset();
  cudaStreamDestroy(stream_);
  // alloc_ lives on while tensors still hold blocks; its cache is freed with it.
}

std::string CudaBackend::name() const { return "cuda:" + std::to_string(device_); }

void CudaBackend::use_device() const { CUDA_CHECK(cudaSetDevice(device_)); }

// ---- memory ------------------------------------------------------------------------------------

Tensor CudaBackend::alloc(const Shape& s, DType t) {
  use_device();
  for (int i = 0; i < s.rank; ++i)
    if (s.dims[i] < 0) fail("OVIS_BAD_ARGUMENT", "alloc: negative dimension in " + s.str());
  Tensor out;
  out.shape = s;
  out.dtype = t;
  out.device = DeviceKind::Cuda;
  out.storage = alloc_->allocate(dtype_bytes(t, s.numel()));
  out.data = out.storage.get();
  return out;
}

Tensor CudaBackend::upload(const Tensor& host) {
  if (host.device == DeviceKind::Cuda) return host;
  if (!host.defined() && host.numel() != 0) fail("OVIS_BAD_ARGUMENT", "upload: undefined tensor");
  Tensor out = alloc(host.shape, host.dtype);
  if (host.nbytes() > 0) {
    // A weight in row parts is assembled here, on the device, never in host memory.
    for_each_host_piece(host, [&](const void* p, size_t bytes, size_t offset) {
      CUDA_CHECK(cudaMemcpyAsync(static_cast<uint8_t*>(out.data) + offset, p, bytes, cudaMemcpyHostToDevice, stream_));
    });
    // The caller may free the host memory as soon as we return.
    CUDA_CHECK(cudaStreamSynchronize(stream_));
  }
  return out;
}

Tensor CudaBackend::upload_weight(const Tensor& host) {
  Tensor raw = upload(host);
  if (!is_float(raw.dtype)) return raw;
  return do_cast(raw, gemm_types(raw.dtype).operand);  // the raw copy goes back to the cache
}

Tensor CudaBackend::to_host_f32(const Tensor& t) {
  if (!is_float(t.dtype)) fail("OVIS_BAD_ARGUMENT", "to_host_f32: tensor must be f32, f16 or bf16");
  if (t.device == DeviceKind::Host) {
    Tensor out = host_f32(t.shape);
    const Tensor whole = t.row_parts ? host_copy(t) : t;  // a weight kept in row parts
    convert_to_f32(whole.data, whole.dtype, out.ptr<float>(), size_t(t.numel()));
    return out;
  }
  use_device();
  Tensor src = do_cast(t, DType::F32);
  Tensor out = host_f32(t.shape);
  if (out.nbytes() > 0) CUDA_CHECK(cudaMemcpyAsync(out.data, src.data, out.nbytes(), cudaMemcpyDeviceToHost, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  return out;
}

// A block-quantized weight expanded into a scratch matrix of the GEMM's operand type (freed after the
// layer's GEMM; the allocator reuses the block for the next layer).
Tensor CudaBackend::dequantized(const Tensor& w, DType to) {
  use_device();
  Tensor out = alloc(w.shape, to);
  launch_dequantize(w.data, w.dtype, out.data, to, w.numel(), stream_);
  return out;
}

Tensor CudaBackend::do_cast(const Tensor& t, DType to) {
  if (t.dtype == to) return t;
  use_device();
  Tensor out = alloc(t.shape, to);
  launch_cast(t.data, t.dtype, out.data, to, t.numel(), stream_);
  return out;
}

void CudaBackend::sync() {
  use_device();
  CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaBackend::trim() {
  // Blocks freed on the host may still be read by queued kernels: finish them before cudaFree.
  sync();
  alloc_->release_cached();
}

size_t CudaBackend::free_memory() {
  use_device();
  size_t free_bytes = 0, total = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total));
  // Cached blocks are free for this backend's next allocations too.
  return free_bytes + (alloc_->reserved() - alloc_->in_use());
}

void CudaBackend::fill_random(Tensor& t, float scale, uint64_t seed) {
  if (t.device != DeviceKind::Cuda || !is_float(t.dtype))
    fail("OVIS_BAD_ARGUMENT", "fill_random: need a float CUDA tensor");
  use_device();
  launch_fill_random(t.data, t.dtype, t.numel(), scale, seed, stream_);
}

// ---- dense -------------------------------------------------------------------------------------

// The one weight-dtype rule of linear and conv2d: bf16 operands with bf16 output in bf16 mode (an f16
// or f32 weight not uploaded by upload_weight is converted, never the activations to f16, which could
// overflow), f32 everywhere in fp32 mode.
GemmTypes CudaBackend::gemm_types(DType weight) const {
  (void)weight;  // every weight dtype maps the same way (block formats are dequantized to the operand type)
  return fp32_ ? GemmTypes{DType::F32, DType::F32} : GemmTypes{DType::BF16, DType::BF16};
}

Tensor CudaBackend::do_linear(const Tensor& x, const Tensor& w, const Tensor* bias) {
  const int64_t n = w.shape[0], k = w.shape[1];
  int64_t m = 1;  // product of the leading dims (K may be 0: then y = bias or zeros, not an empty GEMM)
  for (int i = 0; i + 1 < x.shape.rank; ++i) m *= x.shape[i];
  use_device();
  const GemmTypes types = gemm_types(w.dtype);
  Shape os = x.shape;
  os[-1] = n;
  Tensor out = alloc(os, types.out);
  Tensor xa = do_cast(x, types.operand);
  Tensor wa = dtype_is_quantized(w.dtype) ? dequantized(w, types.operand) : do_cast(w, types.operand);
  Tensor ba;
  if (bias) ba = do_cast(*bias, types.out);
  // Row-major y[M, N] = x[M, K] · w[N, K]ᵀ is column-major yᵀ (N x M) = w(K x N)ᵀ · xᵀ (K x M).
  GemmArgs g;
  g.trans_a = true;
  g.trans_b = false;
  g.m = n;
  g.n = m;
  g.k = k;
  g.a = wa.data;
  g.lda = k;
  g.b = xa.data;
  g.ldb = k;
  g.ab_type = types.operand;
  g.d = out.data;
  g.ldd = n;
  g.d_type = types.out;
  g.bias = bias ? ba.data : nullptr;
  gemm_->run(g);
  return out;
}

Tensor CudaBackend::do_embedding(const Tensor& table, const Tensor& ids) {
  use_device();
  // Out-of-range ids must be a typed error, not a device fault: check them on the host (token ids are few).
  const int64_t count = ids.numel(), vocab = table.shape[0], hidden = table.shape[1];
  std::vector<int32_t> host(static_cast<size_t>(count));
  if (count > 0) {
    CUDA_CHECK(cudaMemcpyAsync(host.data(), ids.data, size_t(count) * 4, cudaMemcpyDeviceToHost, stream_));
    CUDA_CHECK(cudaStreamSynchronize(stream_));
  }
  for (int64_t i = 0; i < count; ++i)
    if (host[size_t(i)] < 0 || host[size_t(i)] >= vocab)
      fail("OVIS_BAD_ARGUMENT", "embedding: id " + std::to_string(host[size_t(i)]) + " at index " + std::to_string(i) +
                                    " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
  Shape os = ids.shape;
  os.dims[os.rank++] = hidden;
  Tensor out = alloc(os, act_dtype());
  launch_embedding(table.data, table.dtype, ids.ptr<int32_t>(), out.data, out.dtype, count, hidden, stream_);
  return out;
}

// ---- elementwise / norms -----------------------------------------------------------------------

Tensor CudaBackend::do_silu(const Tensor& x) {
  use_device();
  Tensor out = alloc(x.shape, act_dtype());
  launch_silu(x.data, x.dtype, out.data, out.dtype, x.numel(), stream_);
  return out;
}

Tensor CudaBackend::do_swiglu(const Tensor& x) {
  use_device();
  Shape os = x.shape;
  os[-1] = x.shape[-1] / 2;
  Tensor out = alloc(os, act_dtype());
  const int64_t f = os[-1], rows = f > 0 ? x.numel() / (2 * f) : 0;
  launch_swiglu(x.data, x.dtype, out.data, out.dtype, rows, f, stream_);
  return out;
}

void CudaBackend::do_add_(Tensor& x, const Tensor& y) {
  use_device();
  launch_add(x.data, x.dtype, y.data, y.dtype, x.numel(), stream_);
}

void CudaBackend::do_gated_add_(Tensor& x, const Tensor& gate, const Tensor& y) {
  use_device();
  launch_gated_add(x.data, x.dtype, gate.data, gate.dtype, y.data, y.dtype, x.shape[0], x.shape[1], x.shape[2],
                   stream_);
}

void CudaBackend::do_axpby_(Tensor& x, float alpha, const Tensor& y, float beta) {
  use_device();
  launch_axpby(x.data, x.dtype, alpha, y.data, y.dtype, beta, x.numel(), stream_);
}

Tensor CudaBackend::do_layer_norm_mod(const Tensor& x, const Tensor* shift, const Tensor* scale, float eps) {
  const int64_t d = x.shape[-1];
  int64_t b = 1, s = d > 0 ? x.numel() / d : 0;
  if (shift || scale) b = x.shape[0], s = x.shape[1];
  use_device();
  Tensor out = alloc(x.shape, act_dtype());
  launch_layer_norm_mod(x.data, x.dtype, shift ? shift->data : nullptr, shift ? shift->dtype : DType::F32,
                        scale ? scale->data : nullptr, scale ? scale->dtype : DType::F32, out.data, out.dtype, b, s, d,
                        eps, stream_);
  return out;
}

Tensor CudaBackend::do_rms_norm(const Tensor& x, const Tensor& w, float eps) {
  use_device();
  Tensor out = alloc(x.shape, act_dtype());
  const int64_t d = x.shape[-1], rows = d > 0 ? x.numel() / d : 0;
  launch_rms_norm(x.data, x.dtype, w.data, w.dtype, out.data, out.dtype, rows, d, eps, stream_);
  return out;
}

Tensor CudaBackend::do_group_norm(const Tensor& x, const Tensor& w, const Tensor& b, int groups, float eps, bool silu) {
  use_device();
  const int64_t batch = x.shape[0], c = x.shape[1], hw = x.shape[2] * x.shape[3];
  Tensor out = alloc(x.shape, act_dtype());
  if (x.numel() == 0) return out;
  auto scratch = alloc_->allocate(group_norm_scratch_bytes(batch, groups, c, hw));
  launch_group_norm(x.data, x.dtype, w.data, w.dtype, b.data, b.dtype, out.data, out.dtype, batch, c, hw, groups, eps,
                    silu, scratch.get(), stream_);
  return out;
}

// ---- positions / attention ---------------------------------------------------------------------

void CudaBackend::do_rope_(Tensor& x, const Tensor& cos, const Tensor& sin, bool interleaved) {
  use_device();
  launch_rope(x.data, x.dtype, cos.ptr<float>(), sin.ptr<float>(), x.shape[0], x.shape[1], x.shape[2], x.shape[3],
              interleaved, stream_);
}

Tensor CudaBackend::do_attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale, bool causal,
                                 const Tensor* key_mask) {
  use_device();
  return attention_forward(*this, q, k, v, scale, causal, key_mask);
}

// ---- convolution / resampling ------------------------------------------------------------------

Tensor CudaBackend::do_conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, int stride, int pad_top,
                              int pad_left, int pad_bottom, int pad_right) {
  use_device();
  return conv2d_forward(*this, x, w, bias, stride, pad_top, pad_left, pad_bottom, pad_right);
}

Tensor CudaBackend::do_upsample_nearest2x(const Tensor& x) {
  use_device();
  Tensor out = alloc(Shape{x.shape[0], x.shape[1], 2 * x.shape[2], 2 * x.shape[3]}, x.dtype);
  launch_upsample_nearest2x(x.data, x.dtype, out.data, out.dtype, x.shape[0] * x.shape[1], x.shape[2], x.shape[3],
                            stream_);
  return out;
}

// ---- layout ------------------------------------------------------------------------------------

Tensor CudaBackend::do_concat(const Tensor& a, const Tensor& b, int ax) {
  use_device();
  Shape os = a.shape;
  os[ax] = a.shape[ax] + b.shape[ax];
  Tensor out = alloc(os, a.dtype);
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < ax; ++i) outer *= a.shape[i];
  for (int i = ax + 1; i < a.shape.rank; ++i) inner *= a.shape[i];
  const int64_t wa = a.shape[ax] * inner, wb = b.shape[ax] * inner, row = wa + wb;
  launch_copy_rows(a.data, a.dtype, wa, 0, out.data, a.dtype, row, 0, outer, wa, stream_);
  launch_copy_rows(b.data, b.dtype, wb, 0, out.data, a.dtype, row, wa, outer, wb, stream_);
  return out;
}

Tensor CudaBackend::do_slice(const Tensor& x, int ax, int64_t start, int64_t len) {
  use_device();
  Shape os = x.shape;
  os[ax] = len;
  Tensor out = alloc(os, x.dtype);
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < ax; ++i) outer *= x.shape[i];
  for (int i = ax + 1; i < x.shape.rank; ++i) inner *= x.shape[i];
  launch_copy_rows(x.data, x.dtype, x.shape[ax] * inner, start * inner, out.data, x.dtype, len * inner, 0, outer,
                   len * inner, stream_);
  return out;
}

Tensor CudaBackend::do_transpose_last2(const Tensor& x) {
  use_device();
  Shape os = x.shape;
  std::swap(os[-1], os[-2]);
  Tensor out = alloc(os, x.dtype);
  const int64_t m = x.shape[-2], n = x.shape[-1], batch = m * n > 0 ? x.numel() / (m * n) : 0;
  launch_transpose_last2(x.data, x.dtype, out.data, out.dtype, batch, m, n, stream_);
  return out;
}

}  // namespace cuda

// ---- factory -----------------------------------------------------------------------------------

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // no driver / no device: not an error for the caller
    return 0;
  }
  return n;
}

std::unique_ptr<Backend> create_cuda_backend(int device_index, bool fp32) {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    int driver = 0;
    (void)cudaDriverGetVersion(&driver);
    if (err == cudaErrorInsufficientDriver && driver == 0)
      fail("OVIS_UNAVAILABLE",
           "CUDA backend unavailable: no NVIDIA driver was found; install NVIDIA driver R580 or "
           "newer (CUDA 13), or use device 'cpu'");
    if (err == cudaErrorInsufficientDriver)
      fail("OVIS_UNAVAILABLE", "CUDA backend unavailable: the NVIDIA driver supports CUDA " +
                                   std::to_string(driver / 1000) + "." + std::to_string(driver % 1000 / 10) +
                                   " only; this build needs CUDA 13: install NVIDIA driver R580 or newer");
    if (err == cudaErrorNoDevice)
      fail("OVIS_UNAVAILABLE",
           "CUDA backend unavailable: no NVIDIA GPU is visible (check nvidia-smi and "
           "CUDA_VISIBLE_DEVICES); use device 'cpu'");
    fail("OVIS_UNAVAILABLE", std::string("CUDA backend unavailable: ") + cudaGetErrorName(err) + " (" +
                                 cudaGetErrorString(err) +
                                 "); is an NVIDIA driver for CUDA 13 (R580 or newer) installed?");
  }
  if (device_index < 0 || device_index >= n)
    fail("OVIS_UNAVAILABLE",
         "CUDA device " + std::to_string(device_index) + " requested but " + std::to_string(n) + " device(s) found");
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, device_index));
  if (prop.major < 8)
    fail("OVIS_UNAVAILABLE", std::string("CUDA device ") + prop.name + " has compute capability " +
                                 std::to_string(prop.major) + "." + std::to_string(prop.minor) +
                                 "; the CUDA backend needs 8.0 or newer (bf16 tensor cores)");
  CUDA_CHECK(cudaSetDevice(device_index));
  cuda::require_kernel_image_for(prop, device_index);
  const cuda::CublasLtApi& lt = cuda::load_cublaslt();
  return std::make_unique<cuda::CudaBackend>(device_index, fp32, lt);
}

}  // namespace ovis
