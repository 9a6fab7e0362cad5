// CudaBackend: shape/dtype validation, dtype policy and dispatch to the kernels in this folder.
#include "cuda_backend.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "cublaslt_loader.h"
#include "cuda_check.h"
#include "launchers.h"

namespace ovis {
namespace cuda {
namespace {

bool is_float(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

void need_device(const Tensor& t, const char* op, const char* what) {
  if (!t.defined() && t.numel() != 0) fail("OVIS_BAD_ARGUMENT", std::string(op) + ": " + what + " is undefined");
  if (t.device != DeviceKind::Cuda)
    fail("OVIS_BAD_ARGUMENT", std::string(op) + ": " + what + " is a host tensor; upload it to the CUDA backend first");
}

void need_float(const Tensor& t, const char* op, const char* what) {
  need_device(t, op, what);
  if (!is_float(t.dtype))
    fail("OVIS_BAD_ARGUMENT", std::string(op) + ": " + what + " must be f32, f16 or bf16, got " + dtype_name(t.dtype));
}

std::string shape_msg(const char* op, const std::string& what, const Tensor& t) {
  return std::string(op) + ": " + what + " has shape " + t.shape.str();
}

int norm_axis(int axis, int rank, const char* op) {
  const int a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank)
    fail("OVIS_BAD_ARGUMENT", std::string(op) + ": axis " + std::to_string(axis) + " out of range for rank " +
                                  std::to_string(rank));
  return a;
}

}  // namespace

CudaBackend::CudaBackend(int device, bool fp32, const CublasLtApi& lt) : device_(device), fp32_(fp32) {
  CUDA_CHECK(cudaSetDevice(device_));
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  alloc_ = std::make_shared<DeviceAllocator>(device_);
  try {
    gemm_ = std::make_unique<GemmRunner>(lt, stream_, alloc_);
  } catch (...) {
    cudaStreamDestroy(stream_);
    throw;
  }
}

CudaBackend::~CudaBackend() {
  cudaSetDevice(device_);
  cudaStreamSynchronize(stream_);
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
  out.storage = alloc_->allocate(size_t(s.numel()) * dtype_size(t));
  out.data = out.storage.get();
  return out;
}

Tensor CudaBackend::upload(const Tensor& host) {
  if (host.device == DeviceKind::Cuda) return host;
  if (!host.defined() && host.numel() != 0) fail("OVIS_BAD_ARGUMENT", "upload: undefined tensor");
  Tensor out = alloc(host.shape, host.dtype);
  if (host.nbytes() > 0) {
    CUDA_CHECK(cudaMemcpyAsync(out.data, host.data, host.nbytes(), cudaMemcpyHostToDevice, stream_));
    // The caller may free the host memory as soon as we return.
    CUDA_CHECK(cudaStreamSynchronize(stream_));
  }
  return out;
}

Tensor CudaBackend::to_host_f32(const Tensor& t) {
  if (t.device == DeviceKind::Host) {
    if (!is_float(t.dtype)) fail("OVIS_BAD_ARGUMENT", "to_host_f32: tensor must be f32, f16 or bf16");
    Tensor out = host_f32(t.shape);
    convert_to_f32(t.data, t.dtype, out.ptr<float>(), size_t(t.numel()));
    return out;
  }
  need_float(t, "to_host_f32", "tensor");
  use_device();
  Tensor src = as_dtype(t, DType::F32);
  Tensor out = host_f32(t.shape);
  if (out.nbytes() > 0)
    CUDA_CHECK(cudaMemcpyAsync(out.data, src.data, out.nbytes(), cudaMemcpyDeviceToHost, stream_));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  return out;
}

Tensor CudaBackend::cast(const Tensor& t, DType to) {
  need_float(t, "cast", "tensor");
  if (!is_float(to)) fail("OVIS_BAD_ARGUMENT", std::string("cast: target dtype must be a float type, got ") + dtype_name(to));
  return as_dtype(t, to);
}

Tensor CudaBackend::as_dtype(const Tensor& t, DType to) {
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

void CudaBackend::fill_random(Tensor& t, float scale, uint64_t seed) {
  need_float(t, "fill_random", "tensor");
  use_device();
  launch_fill_random(t.data, t.dtype, t.numel(), scale, seed, stream_);
}

// ---- dense -------------------------------------------------------------------------------------

void CudaBackend::gemm_types(DType wt, DType* operand, DType* out) const {
  if (fp32_ || wt == DType::F32) {
    *operand = DType::F32;
    *out = DType::F32;
  } else if (wt == DType::BF16) {
    *operand = DType::BF16;
    *out = DType::BF16;
  } else {  // f16 weights: f16 operands, f32 output (cuBLASLt has no f16 x f16 -> bf16)
    *operand = DType::F16;
    *out = DType::F32;
  }
}

Tensor CudaBackend::linear(const Tensor& x, const Tensor& w, const Tensor* bias) {
  const char* op = "linear";
  need_float(x, op, "x");
  need_float(w, op, "w");
  if (w.shape.rank != 2) fail("OVIS_BAD_ARGUMENT", shape_msg(op, "w", w) + ", expected [N, K]");
  if (x.shape.rank < 1 || x.shape[-1] != w.shape[1])
    fail("OVIS_BAD_ARGUMENT", std::string(op) + ": x " + x.shape.str() + " does not match w " + w.shape.str() +
                                  " (last dim of x must be K = w.shape[1])");
  const int64_t n = w.shape[0], k = w.shape[1];
  int64_t m = 1;  // product of the leading dims (K may be 0: then y = bias or zeros, not an empty GEMM)
  for (int i = 0; i + 1 < x.shape.rank; ++i) m *= x.shape[i];
  if (bias) {
    need_float(*bias, op, "bias");
    if (bias->numel() != n) fail("OVIS_BAD_ARGUMENT", shape_msg(op, "bias", *bias) + ", expected [" + std::to_string(n) + "]");
  }
  use_device();
  DType t_op, t_out;
  gemm_types(w.dtype, &t_op, &t_out);
  Shape os = x.shape;
  os[-1] = n;
  Tensor out = alloc(os, t_out);
  Tensor xa = as_dtype(x, t_op), wa = as_dtype(w, t_op);
  Tensor ba;
  if (bias) ba = as_dtype(*bias, t_out);
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
  g.ab_type = t_op;
  g.d = out.data;
  g.ldd = n;
  g.d_type = t_out;
  g.bias = bias ? ba.data : nullptr;
  gemm_->run(g);
  return out;
}

Tensor CudaBackend::embedding(const Tensor& table, const Tensor& ids) {
  const char* op = "embedding";
  need_float(table, op, "table");
  need_device(ids, op, "ids");
  if (table.shape.rank != 2) fail("OVIS_BAD_ARGUMENT", shape_msg(op, "table", table) + ", expected [V, H]");
  if (ids.dtype != DType::I32) fail("OVIS_BAD_ARGUMENT", std::string(op) + ": ids must be i32");
  if (ids.shape.rank >= 6) fail("OVIS_BAD_ARGUMENT", std::string(op) + ": ids rank must be < 6");
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
      fail("OVIS_BAD_ARGUMENT", std::string(op) + ": id " + std::to_string(host[size_t(i)]) + " at index " +
                                    std::to_string(i) + " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
  Shape os = ids.shape;
  os.dims[os.rank++] = hidden;
  Tensor out = alloc(os, act_dtype());
  launch_embedding(table.data, table.dtype, ids.ptr<int32_t>(), out.data, out.dtype, count, hidden, stream_);
  return out;
}

// ---- elementwise / norms -----------------------------------------------------------------------

Tensor CudaBackend::silu(const Tensor& x) {
  need_float(x, "silu", "x");
  use_device();
  Tensor out = alloc(x.shape, act_dtype());
  launch_silu(x.data, x.dtype, out.data, out.dtype, x.numel(), stream_);
  return out;
}

Tensor CudaBackend::swiglu(const Tensor& x) {
  const char* op = "swiglu";
  need_float(x, op, "x");
  if (x.shape.rank < 1 || x.shape[-1] % 2 != 0) fail("OVIS_BAD_ARGUMENT", shape_msg(op, "x", x) + ", last dim must be even");
  use_device();
  Shape os = x.shape;
  os[-1] = x.shape[-1] / 2;
  Tensor out = alloc(os, act_dtype());
  const int64_t f = os[-1], rows = f > 0 ? x.numel() / (2 * f) : 0;
  launch_swiglu(x.data, x.dtype, out.data, out.dtype, rows, f, stream_);
  return out;
}

void CudaBackend::add_(Tensor& x, const Tensor& y) {
  need_float(x, "add_", "x");
  need_float(y, "add_", "y");
  if (x.shape != y.shape) fail("OVIS_BAD_ARGUMENT", "add_: x " + x.shape.str() + " and y " + y.shape.str() + " differ");
  use_device();
  launch_add(x.data, x.dtype, y.data, y.dtype, x.numel(), stream_);
}

void CudaBackend::gated_add_(Tensor& x, const Tensor& gate, const Tensor& y) {
  const char* op = "gated_add_";
  need_float(x, op, "x");
  need_float(gate, op, "gate");
  need_float(y, op, "y");
  if (x.shape.rank != 3) fail("OVIS_BAD_ARGUMENT", shape_msg(op, "x", x) + ", expected [B, S, D]");
  if (x.shape != y.shape) fail("OVIS_BAD_ARGUMENT", "gated_add_: x " + x.shape.str() + " and y " + y.shape.str() + " differ");
  const int64_t b = x.shape[0], s = x.shape[1], d = x.shape[2];
  if (gate.numel() != b * d || gate.shape[-1] != d)
    fail("OVIS_BAD_ARGUMENT", shape_msg(op, "gate", gate) + ", expected [" + std::to_string(b) + ", " + std::to_string(d) + "]");
  use_device();
  launch_gated_add(x.data, x.dtype, gate.data, gate.dtype, y.data, y.dtype, b, s, d, stream_);
}

void CudaBackend::axpby_(Tensor& x, float alpha, const Tensor& y, float beta) {
  need_float(x, "axpby_", "x");
  need_float(y, "axpby_", "y");
  if (x.shape != y.shape) fail("OVIS_BAD_ARGUMENT", "axpby_: x " + x.shape.str() + " and y " + y.shape.str() + " differ");
  use_device();
  launch_axpby(x.data, x.dtype, alpha, y.data, y.dtype, beta, x.numel(), stream_);
}

Tensor CudaBackend::layer_norm_mod(const Tensor& x, const Tensor* shift, const Tensor* scale, float eps) {
  const char* op = "layer_norm_mod";
  need_float(x, op, "x");
  if (x.shape.rank < 1) fail("OVIS_BAD_ARGUMENT", shape_msg(op, "x", x));
  const int64_t d = x.shape[-1];
  int64_t b = 1, s = d > 0 ? x.numel() / d : 0;
  if (shift || scale) {
    if (x.shape.rank != 3) fail("OVIS_BAD_ARGUMENT", shape_msg(op, "x", x) + ", expected [B, S, D] with modulation");
    b = x.shape[0];
    s = x.shape[1];
  }
  for (const Tensor* m : {shift, scale}) {
    if (!m) continue;
    need_float(*m, op, m == shift ? "shift" : "scale");
    if (m->numel() != b * d || m->shape[-1] != d)
      fail("OVIS_BAD_ARGUMENT", shape_msg(op, m == shift ? "shift" : "scale", *m) + ", expected [" +
                                    std::to_string(b) + ", " + std::to_string(d) + "]");
  }
  use_device();
  Tensor out = alloc(x.shape, act_dtype());
  launch_layer_norm_mod(x.data, x.dtype, shift ? shift->data : nullptr, shift ? shift->dtype : DType::F32,
                        scale ? scale->data : nullptr, scale ? scale->dtype : DType::F32, out.data, out.dtype, b, s, d,
                        eps, stream_);
  return out;
}

Tensor CudaBackend::rms_norm(const Tensor& x, const Tensor& w, float eps) {
  const char* op = "rms_norm";
  need_float(x, op, "x");
  need_float(w, op, "w");
  if (x.shape.rank < 1 || w.numel() != x.shape[-1])
    fail("OVIS_BAD_ARGUMENT", "rms_norm: w " + w.shape.str() + " does not match the last dim of x " + x.shape.str());
  use_device();
  Tensor out = alloc(x.shape, act_dtype());
  const int64_t d = x.shape[-1], rows = d > 0 ? x.numel() / d : 0;
  launch_rms_norm(x.data, x.dtype, w.data, w.dtype, out.data, out.dtype, rows, d, eps, stream_);
  return out;
}

Tensor CudaBackend::group_norm(const Tensor& x, const Tensor& w, const Tensor& b, int groups, float eps, bool silu) {
  const char* op = "group_norm";
  need_float(x, op, "x");
  need_float(w, op, "w");
  need_float(b, op, "b");
  if (x.shape.rank != 4) fail("OVIS_BAD_ARGUMENT", shape_msg(op, "x", x) + ", expected [B, C, H, W]");
  const int64_t c = x.shape[1];
  if (groups <= 0 || c % groups != 0)
    fail("OVIS_BAD_ARGUMENT", "group_norm: groups " + std::to_string(groups) + " must divide channels " + std::to_string(c));
  if (w.numel() != c || b.numel() != c)
    fail("OVIS_BAD_ARGUMENT", "group_norm: w " + w.shape.str() + " and b " + b.shape.str() + " must have C = " + std::to_string(c) + " elements");
  use_device();
  const int64_t batch = x.shape[0], hw = x.shape[2] * x.shape[3];
  Tensor out = alloc(x.shape, act_dtype());
  if (x.numel() == 0) return out;
  auto scratch = alloc_->allocate(group_norm_scratch_bytes(batch, groups, c, hw));
  launch_group_norm(x.data, x.dtype, w.data, w.dtype, b.data, b.dtype, out.data, out.dtype, batch, c, hw, groups, eps,
                    silu, scratch.get(), stream_);
  return out;
}

// ---- positions ---------------------------------------------------------------------------------

void CudaBackend::rope(Tensor& x, const Tensor& cos, const Tensor& sin, bool interleaved, const char* op) {
  need_float(x, op, "x");
  need_float(cos, op, "cos");
  need_float(sin, op, "sin");
  if (x.shape.rank != 4 || x.shape[3] % 2 != 0)
    fail("OVIS_BAD_ARGUMENT", shape_msg(op, "x", x) + ", expected [B, S, H, hd] with even hd");
  const int64_t s = x.shape[1], half = x.shape[3] / 2;
  if (cos.numel() != s * half || sin.numel() != s * half)
    fail("OVIS_BAD_ARGUMENT", std::string(op) + ": cos " + cos.shape.str() + " / sin " + sin.shape.str() +
                                  " must be [" + std::to_string(s) + ", " + std::to_string(half) + "]");
  use_device();
  Tensor c = as_dtype(cos, DType::F32), sn = as_dtype(sin, DType::F32);
  launch_rope(x.data, x.dtype, c.ptr<float>(), sn.ptr<float>(), x.shape[0], s, x.shape[2], x.shape[3], interleaved,
              stream_);
}

void CudaBackend::rope_interleaved_(Tensor& x, const Tensor& cos, const Tensor& sin) {
  rope(x, cos, sin, true, "rope_interleaved_");
}
void CudaBackend::rope_half_(Tensor& x, const Tensor& cos, const Tensor& sin) { rope(x, cos, sin, false, "rope_half_"); }

// ---- attention ---------------------------------------------------------------------------------

Tensor CudaBackend::attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale, bool causal,
                              const Tensor* key_mask) {
  const char* op = "attention";
  need_float(q, op, "q");
  need_float(k, op, "k");
  need_float(v, op, "v");
  if (q.shape.rank != 4 || k.shape.rank != 4 || v.shape.rank != 4)
    fail("OVIS_BAD_ARGUMENT", "attention: q, k, v must be [B, S, H, hd]; got " + q.shape.str() + ", " + k.shape.str() + ", " + v.shape.str());
  if (k.shape != v.shape) fail("OVIS_BAD_ARGUMENT", "attention: k " + k.shape.str() + " and v " + v.shape.str() + " differ");
  const int64_t b = q.shape[0], sq = q.shape[1], hq = q.shape[2], hd = q.shape[3];
  const int64_t sk = k.shape[1], hkv = k.shape[2];
  if (k.shape[0] != b || k.shape[3] != hd)
    fail("OVIS_BAD_ARGUMENT", "attention: q " + q.shape.str() + " and k " + k.shape.str() + " differ in batch or head_dim");
  if (hkv <= 0 || hq % hkv != 0)
    fail("OVIS_BAD_ARGUMENT", "attention: query heads " + std::to_string(hq) + " must be a multiple of kv heads " + std::to_string(hkv));
  if (causal && sq != sk) fail("OVIS_BAD_ARGUMENT", "attention: causal needs Sq == Sk");
  if (hd > 512) fail("OVIS_BAD_ARGUMENT", "attention: head_dim " + std::to_string(hd) + " > 512 is not supported on CUDA");
  Tensor mask;
  if (key_mask) {
    need_float(*key_mask, op, "key_mask");
    if (key_mask->numel() != b * sk)
      fail("OVIS_BAD_ARGUMENT", shape_msg(op, "key_mask", *key_mask) + ", expected [" + std::to_string(b) + ", " + std::to_string(sk) + "]");
    mask = as_dtype(*key_mask, DType::F32);
  }
  use_device();
  AttentionArgs a;
  a.batch = b;
  a.sq = sq;
  a.sk = sk;
  a.hq = hq;
  a.hkv = hkv;
  a.hd = hd;
  a.scale = scale;
  a.causal = causal;
  a.key_mask = key_mask ? mask.ptr<float>() : nullptr;
  if (!fp32_ && q.dtype == DType::BF16 && k.dtype == DType::BF16 && v.dtype == DType::BF16 && hd == 128) {
    Tensor out = alloc(q.shape, DType::BF16);
    a.q = q.data;
    a.k = k.data;
    a.v = v.data;
    a.t = DType::BF16;
    a.out = out.data;
    a.tout = DType::BF16;
    if (flash_attention_hd128_ok(a)) {
      launch_flash_attention_hd128(a, stream_);
      return out;
    }
  }
  // Generic path: one common input dtype (f32 when they differ).
  const DType t = (q.dtype == k.dtype && k.dtype == v.dtype) ? q.dtype : DType::F32;
  Tensor qa = as_dtype(q, t), ka = as_dtype(k, t), va = as_dtype(v, t);
  Tensor out = alloc(q.shape, act_dtype());
  a.q = qa.data;
  a.k = ka.data;
  a.v = va.data;
  a.t = t;
  a.out = out.data;
  a.tout = out.dtype;
  launch_attention_generic(a, stream_);
  return out;
}

// ---- convolution / resampling ------------------------------------------------------------------

Tensor CudaBackend::conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, int stride, int pad_top, int pad_left,
                           int pad_bottom, int pad_right) {
  const char* op = "conv2d";
  need_float(x, op, "x");
  need_float(w, op, "w");
  if (x.shape.rank != 4) fail("OVIS_BAD_ARGUMENT", shape_msg(op, "x", x) + ", expected [B, Cin, H, W]");
  if (w.shape.rank != 4) fail("OVIS_BAD_ARGUMENT", shape_msg(op, "w", w) + ", expected [Cout, Cin, kh, kw]");
  if (w.shape[1] != x.shape[1])
    fail("OVIS_BAD_ARGUMENT", "conv2d: x " + x.shape.str() + " has " + std::to_string(x.shape[1]) + " channels, w " + w.shape.str() + " expects " + std::to_string(w.shape[1]));
  if (stride < 1 || pad_top < 0 || pad_left < 0 || pad_bottom < 0 || pad_right < 0)
    fail("OVIS_BAD_ARGUMENT", "conv2d: stride must be >= 1 and padding >= 0");
  const int64_t batch = x.shape[0], cin = x.shape[1], h = x.shape[2], wd = x.shape[3];
  const int64_t cout = w.shape[0], kh = w.shape[2], kw = w.shape[3];
  const int64_t hp = h + pad_top + pad_bottom, wp = wd + pad_left + pad_right;
  if (kh < 1 || kw < 1 || hp < kh || wp < kw)
    fail("OVIS_BAD_ARGUMENT", "conv2d: kernel " + w.shape.str() + " larger than padded input " + x.shape.str());
  const int64_t ho = (hp - kh) / stride + 1, wo = (wp - kw) / stride + 1;
  if (bias) {
    need_float(*bias, op, "bias");
    if (bias->numel() != cout) fail("OVIS_BAD_ARGUMENT", shape_msg(op, "bias", *bias) + ", expected [" + std::to_string(cout) + "]");
  }
  use_device();
  DType t_op, t_out;
  gemm_types(w.dtype, &t_op, &t_out);
  Tensor out = alloc(Shape{batch, cout, ho, wo}, t_out);
  const int64_t p = ho * wo, kdim = cin * kh * kw;
  if (out.numel() == 0) return out;
  Tensor wa = as_dtype(w, t_op);
  // Column-major: out_b (P x Cout, ld P) = patches (P x K) · w(K x Cout); w row-major [Cout, K] is K x Cout.
  GemmArgs g;
  g.n = cout;
  g.k = kdim;
  g.b = wa.data;
  g.ldb = kdim;
  g.trans_b = false;
  g.ab_type = t_op;
  g.d_type = t_out;
  g.ldd = p;
  const size_t es_op = dtype_size(t_op), es_out = dtype_size(t_out);
  const bool pointwise = kh == 1 && kw == 1 && stride == 1 && pad_top == 0 && pad_left == 0 && pad_bottom == 0 && pad_right == 0;
  if (pointwise) {
    Tensor xa = as_dtype(x, t_op);  // x_b row-major [Cin, P] is column-major P x Cin
    for (int64_t bi = 0; bi < batch; ++bi) {
      g.trans_a = false;
      g.m = p;
      g.a = static_cast<const char*>(xa.data) + size_t(bi * cin * p) * es_op;
      g.lda = p;
      g.d = static_cast<char*>(out.data) + size_t(bi * cout * p) * es_out;
      gemm_->run(g);
    }
  } else {
    // Patch rows in chunks so the temporary stays under ~256 MiB; chunks are multiples of 64 pixels.
    const int64_t budget = int64_t(256) << 20;
    int64_t pc = std::max<int64_t>(64, budget / std::max<int64_t>(1, kdim * int64_t(es_op)) / 64 * 64);
    pc = std::min(pc, p);
    auto col = alloc_->allocate(size_t(pc * kdim) * es_op);
    for (int64_t bi = 0; bi < batch; ++bi) {
      const void* xb = static_cast<const char*>(x.data) + size_t(bi * cin * h * wd) * dtype_size(x.dtype);
      for (int64_t p0 = 0; p0 < p; p0 += pc) {
        const int64_t cur = std::min(pc, p - p0);
        launch_im2row(xb, x.dtype, col.get(), t_op, cin, h, wd, int(kh), int(kw), stride, pad_top, pad_left, wo, p0, cur,
                      stream_);
        g.trans_a = true;  // patches row-major [cur, K] is column-major K x cur
        g.m = cur;
        g.a = col.get();
        g.lda = kdim;
        g.d = static_cast<char*>(out.data) + size_t(bi * cout * p + p0) * es_out;
        gemm_->run(g);
      }
    }
  }
  if (bias) launch_channel_bias(out.data, out.dtype, bias->data, bias->dtype, batch, cout, p, stream_);
  return out;
}

Tensor CudaBackend::upsample_nearest2x(const Tensor& x) {
  need_float(x, "upsample_nearest2x", "x");
  if (x.shape.rank != 4) fail("OVIS_BAD_ARGUMENT", shape_msg("upsample_nearest2x", "x", x) + ", expected [B, C, H, W]");
  use_device();
  Tensor out = alloc(Shape{x.shape[0], x.shape[1], 2 * x.shape[2], 2 * x.shape[3]}, x.dtype);
  launch_upsample_nearest2x(x.data, x.dtype, out.data, out.dtype, x.shape[0] * x.shape[1], x.shape[2], x.shape[3],
                            stream_);
  return out;
}

// ---- layout ------------------------------------------------------------------------------------

Tensor CudaBackend::concat(const Tensor& a, const Tensor& b, int axis) {
  const char* op = "concat";
  need_device(a, op, "a");
  need_device(b, op, "b");
  if (a.shape.rank != b.shape.rank || a.shape.rank == 0)
    fail("OVIS_BAD_ARGUMENT", "concat: a " + a.shape.str() + " and b " + b.shape.str() + " differ in rank");
  const int ax = norm_axis(axis, a.shape.rank, op);
  for (int i = 0; i < a.shape.rank; ++i)
    if (i != ax && a.shape[i] != b.shape[i])
      fail("OVIS_BAD_ARGUMENT", "concat: a " + a.shape.str() + " and b " + b.shape.str() + " differ outside axis " + std::to_string(ax));
  if ((a.dtype == DType::I32) != (b.dtype == DType::I32)) fail("OVIS_BAD_ARGUMENT", "concat: cannot mix i32 and float tensors");
  use_device();
  const DType t = a.dtype == b.dtype ? a.dtype : act_dtype();
  Shape os = a.shape;
  os[ax] = a.shape[ax] + b.shape[ax];
  Tensor out = alloc(os, t);
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < ax; ++i) outer *= a.shape[i];
  for (int i = ax + 1; i < a.shape.rank; ++i) inner *= a.shape[i];
  const int64_t wa = a.shape[ax] * inner, wb = b.shape[ax] * inner, row = wa + wb;
  launch_copy_rows(a.data, a.dtype, wa, 0, out.data, t, row, 0, outer, wa, stream_);
  launch_copy_rows(b.data, b.dtype, wb, 0, out.data, t, row, wa, outer, wb, stream_);
  return out;
}

Tensor CudaBackend::slice(const Tensor& x, int axis, int64_t start, int64_t len) {
  const char* op = "slice";
  need_device(x, op, "x");
  if (x.shape.rank == 0) fail("OVIS_BAD_ARGUMENT", "slice: scalar tensor");
  const int ax = norm_axis(axis, x.shape.rank, op);
  if (start < 0 || len < 0 || start + len > x.shape[ax])
    fail("OVIS_BAD_ARGUMENT", "slice: [" + std::to_string(start) + ", " + std::to_string(start + len) + ") is outside axis " +
                                  std::to_string(ax) + " of " + x.shape.str());
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

Tensor CudaBackend::transpose_last2(const Tensor& x) {
  need_float(x, "transpose_last2", "x");
  if (x.shape.rank < 2) fail("OVIS_BAD_ARGUMENT", shape_msg("transpose_last2", "x", x) + ", expected rank >= 2");
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
      fail("OVIS_UNAVAILABLE", "CUDA backend unavailable: no NVIDIA driver was found; install NVIDIA driver R580 or "
                               "newer (CUDA 13), or use device 'cpu'");
    if (err == cudaErrorInsufficientDriver)
      fail("OVIS_UNAVAILABLE", "CUDA backend unavailable: the NVIDIA driver supports CUDA " +
                                   std::to_string(driver / 1000) + "." + std::to_string(driver % 1000 / 10) +
                                   " only; this build needs CUDA 13: install NVIDIA driver R580 or newer");
    if (err == cudaErrorNoDevice)
      fail("OVIS_UNAVAILABLE", "CUDA backend unavailable: no NVIDIA GPU is visible (check nvidia-smi and "
                               "CUDA_VISIBLE_DEVICES); use device 'cpu'");
    fail("OVIS_UNAVAILABLE", std::string("CUDA backend unavailable: ") + cudaGetErrorName(err) + " (" +
                                 cudaGetErrorString(err) + "); is an NVIDIA driver for CUDA 13 (R580 or newer) installed?");
  }
  if (device_index < 0 || device_index >= n)
    fail("OVIS_UNAVAILABLE", "CUDA device " + std::to_string(device_index) + " requested but " + std::to_string(n) +
                                 " device(s) found");
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, device_index));
  if (prop.major < 8)
    fail("OVIS_UNAVAILABLE", std::string("CUDA device ") + prop.name + " has compute capability " +
                                 std::to_string(prop.major) + "." + std::to_string(prop.minor) +
                                 "; the CUDA backend needs 8.0 or newer (bf16 tensor cores)");
  const cuda::CublasLtApi& lt = cuda::load_cublaslt();
  return std::make_unique<cuda::CudaBackend>(device_index, fp32, lt);
}

}  // namespace ovis
