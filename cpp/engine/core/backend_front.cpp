// The Backend op fronts: every argument and shape rule of every op, written once for all backends
// (the way ggml checks in ggml.c and its backends only compute). A backend's do_* may assume them.
#include <string>

#include "core/backend.h"
#include "core/error.h"

namespace ovis {

namespace {

bool is_float(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }
std::string describe(const Tensor& t) { return t.shape.str() + " " + dtype_name(t.dtype); }
std::string num(int64_t v) { return std::to_string(v); }

// Argument checks for one call of one op; each failure names the op and the argument.
class Args {
 public:
  Args(const Backend& be, const char* op) : be_(be), op_(op) {}

  [[noreturn]] void bad(const std::string& what) const { fail("OVIS_BAD_ARGUMENT", std::string(op_) + ": " + what); }

  // Defined and living on this backend's device (any dtype); in one piece unless `parts_ok`.
  const Tensor& present(const Tensor& t, const char* name, bool parts_ok = false) const {
    if (!t.defined()) bad(std::string(name) + " is undefined");
    if (t.row_parts && !parts_ok) bad(std::string(name) + " is a weight stored in row parts; only linear reads those");
    if (t.device != be_.device())
      bad(std::string(name) + (t.device == DeviceKind::Host ? " is a host tensor; upload it to " : " is not on ") +
          be_.name() + " first");
    return t;
  }
  // Defined and in host memory (the source of an upload).
  const Tensor& host(const Tensor& t, const char* name) const {
    if (!t.defined()) bad(std::string(name) + " is undefined");
    if (t.device != DeviceKind::Host) bad(std::string(name) + " must be a host tensor");
    return t;
  }
  const Tensor& flt(const Tensor& t, const char* name) const {
    present(t, name);
    if (!is_float(t.dtype)) bad(std::string(name) + " must be f32, f16 or bf16, got " + describe(t));
    return t;
  }
  const Tensor& weight(const Tensor& t, const char* name) const {
    present(t, name);
    if (!is_weight_dtype(t.dtype)) bad(std::string(name) + " has an unsupported weight dtype: " + describe(t));
    return t;
  }
  // linear also takes ggml block types (quantized rows); conv2d and embedding do not.
  const Tensor& linear_weight(const Tensor& t, const char* name) const {
    present(t, name, /*parts_ok=*/true);
    if (!is_weight_dtype(t.dtype) && !dtype_is_quantized(t.dtype))
      bad(std::string(name) + " has an unsupported weight dtype: " + describe(t));
    return t;
  }
  void rank(const Tensor& t, const char* name, int r, const char* layout) const {
    if (t.shape.rank != r) bad(std::string(name) + " must be " + layout + ", got " + describe(t));
  }
  void same_shape(const Tensor& a, const char* an, const Tensor& b, const char* bn) const {
    if (a.shape != b.shape) bad(std::string(an) + " " + a.shape.str() + " and " + bn + " " + b.shape.str() + " differ");
  }
  void shape_is(const Tensor& t, const char* name, const Shape& want) const {
    if (t.shape != want) bad(std::string(name) + " must be " + want.str() + ", got " + describe(t));
  }
  int axis(int axis, int rank) const {
    const int a = axis < 0 ? axis + rank : axis;
    if (rank == 0 || a < 0 || a >= rank)
      bad("axis " + std::to_string(axis) + " out of range for rank " + std::to_string(rank));
    return a;
  }

 private:
  const Backend& be_;
  const char* op_;
};

}  // namespace

bool is_weight_dtype(DType t) { return is_float(t); }

Tensor Backend::cast(const Tensor& t, DType to) {
  Args a(*this, "cast");
  a.flt(t, "x");
  if (!is_float(to)) a.bad(std::string("target dtype must be f32, f16 or bf16, got ") + dtype_name(to));
  return do_cast(t, to);
}

Tensor Backend::linear(const Tensor& x, const Tensor& w, const Tensor* bias) {
  Args a(*this, "linear");
  a.flt(x, "x");
  a.linear_weight(w, "w");
  if (x.shape.rank < 1) a.bad("x must have rank >= 1, got " + describe(x));
  a.rank(w, "w", 2, "[N, K]");
  if (w.shape[1] != x.shape[-1]) a.bad("x " + x.shape.str() + " and w " + w.shape.str() + " disagree on K");
  if (bias) a.shape_is(a.flt(*bias, "bias"), "bias", Shape{w.shape[0]});
  return do_linear(x, w, bias);
}

Tensor Backend::embedding(const Tensor& table, const Tensor& ids) {
  Args a(*this, "embedding");
  a.weight(table, "table");
  a.present(ids, "ids");
  if (ids.dtype != DType::I32) a.bad("ids must be i32, got " + describe(ids));
  a.rank(table, "table", 2, "[V, H]");
  if (ids.shape.rank > 5) a.bad("ids rank must be <= 5, got " + ids.shape.str());
  return do_embedding(table, ids);  // id ranges are checked where the ids are readable (the device)
}

Tensor Backend::silu(const Tensor& x) {
  Args(*this, "silu").flt(x, "x");
  return do_silu(x);
}

Tensor Backend::swiglu(const Tensor& x) {
  Args a(*this, "swiglu");
  a.flt(x, "x");
  if (x.shape.rank < 1 || x.shape[-1] % 2 != 0) a.bad("last dim must be even, got " + describe(x));
  return do_swiglu(x);
}

void Backend::add_(Tensor& x, const Tensor& y) {
  Args a(*this, "add_");
  a.same_shape(a.flt(x, "x"), "x", a.flt(y, "y"), "y");
  do_add_(x, y);
}

void Backend::gated_add_(Tensor& x, const Tensor& gate, const Tensor& y) {
  Args a(*this, "gated_add_");
  a.flt(x, "x");
  a.flt(gate, "gate");
  a.flt(y, "y");
  a.rank(x, "x", 3, "[B, S, D]");
  a.same_shape(x, "x", y, "y");
  a.shape_is(gate, "gate", Shape{x.shape[0], x.shape[2]});
  do_gated_add_(x, gate, y);
}

void Backend::axpby_(Tensor& x, float alpha, const Tensor& y, float beta) {
  Args a(*this, "axpby_");
  a.same_shape(a.flt(x, "x"), "x", a.flt(y, "y"), "y");
  do_axpby_(x, alpha, y, beta);
}

Tensor Backend::layer_norm_mod(const Tensor& x, const Tensor* shift, const Tensor* scale, float eps) {
  Args a(*this, "layer_norm_mod");
  a.flt(x, "x");
  if (x.shape.rank < 1) a.bad("x must have rank >= 1");
  if (shift || scale) a.rank(x, "x", 3, "[B, S, D] with modulation");
  if (shift) a.shape_is(a.flt(*shift, "shift"), "shift", Shape{x.shape[0], x.shape[2]});
  if (scale) a.shape_is(a.flt(*scale, "scale"), "scale", Shape{x.shape[0], x.shape[2]});
  return do_layer_norm_mod(x, shift, scale, eps);
}

Tensor Backend::rms_norm(const Tensor& x, const Tensor& w, float eps) {
  Args a(*this, "rms_norm");
  a.flt(x, "x");
  if (x.shape.rank < 1) a.bad("x must have rank >= 1");
  a.shape_is(a.flt(w, "w"), "w", Shape{x.shape[-1]});
  return do_rms_norm(x, w, eps);
}

Tensor Backend::group_norm(const Tensor& x, const Tensor& w, const Tensor& b, int groups, float eps, bool silu) {
  Args a(*this, "group_norm");
  a.flt(x, "x");
  a.rank(x, "x", 4, "[B, C, H, W]");
  const int64_t c = x.shape[1];
  if (groups <= 0 || c % groups != 0) a.bad("groups (" + num(groups) + ") must divide C (" + num(c) + ")");
  a.shape_is(a.flt(w, "w"), "w", Shape{c});
  a.shape_is(a.flt(b, "b"), "b", Shape{c});
  return do_group_norm(x, w, b, groups, eps, silu);
}

void Backend::rope_front(Tensor& x, const Tensor& cos, const Tensor& sin, bool interleaved, const char* op) {
  Args a(*this, op);
  a.flt(x, "x");
  for (const Tensor* t : {&cos, &sin})
    if (a.present(*t, t == &cos ? "cos" : "sin").dtype != DType::F32)
      a.bad("cos and sin must be f32, got " + describe(*t));
  if (x.shape.rank != 4 || x.shape[3] % 2 != 0) a.bad("x must be [B, S, H, hd] with even hd, got " + describe(x));
  const Shape want{x.shape[1], x.shape[3] / 2};
  a.shape_is(cos, "cos", want);
  a.shape_is(sin, "sin", want);
  do_rope_(x, cos, sin, interleaved);
}

void Backend::rope_interleaved_(Tensor& x, const Tensor& cos, const Tensor& sin) {
  rope_front(x, cos, sin, true, "rope_interleaved_");
}
void Backend::rope_half_(Tensor& x, const Tensor& cos, const Tensor& sin) {
  rope_front(x, cos, sin, false, "rope_half_");
}

Tensor Backend::attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale, bool causal,
                          const Tensor* key_mask) {
  Args a(*this, "attention");
  a.flt(q, "q");
  a.flt(k, "k");
  a.flt(v, "v");
  if (q.shape.rank != 4 || k.shape.rank != 4 || k.shape != v.shape)
    a.bad("q must be [B, Sq, Hq, hd] and k, v the same [B, Sk, Hkv, hd]; got q " + q.shape.str() + ", k " +
          k.shape.str() + ", v " + v.shape.str());
  const int64_t hq = q.shape[2], hkv = k.shape[2];
  if (k.shape[0] != q.shape[0] || k.shape[3] != q.shape[3] || hkv == 0 || hq % hkv != 0)
    a.bad("q " + q.shape.str() + " and k/v " + k.shape.str() + " disagree (batch, head_dim or Hq % Hkv)");
  if (causal && q.shape[1] != k.shape[1])
    a.bad("causal attention needs Sq == Sk, got q " + q.shape.str() + ", k " + k.shape.str());
  if (key_mask) a.shape_is(a.flt(*key_mask, "key_mask"), "key_mask", Shape{q.shape[0], k.shape[1]});
  return do_attention(q, k, v, scale, causal, key_mask);
}

Tensor Backend::conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, int stride, int pad_top, int pad_left,
                       int pad_bottom, int pad_right) {
  Args a(*this, "conv2d");
  a.flt(x, "x");
  a.weight(w, "w");
  a.rank(x, "x", 4, "[B, Cin, H, W]");
  a.rank(w, "w", 4, "[Cout, Cin, kh, kw]");
  if (w.shape[1] != x.shape[1])
    a.bad("x " + x.shape.str() + " has Cin " + num(x.shape[1]) + " but w is " + w.shape.str());
  if (stride < 1 || pad_top < 0 || pad_left < 0 || pad_bottom < 0 || pad_right < 0)
    a.bad("stride must be >= 1 and paddings >= 0");
  const int64_t hp = x.shape[2] + pad_top + pad_bottom, wp = x.shape[3] + pad_left + pad_right;
  if (w.shape[2] < 1 || w.shape[3] < 1 || hp < w.shape[2] || wp < w.shape[3])
    a.bad("kernel " + w.shape.str() + " does not fit padded input " + x.shape.str());
  if (bias) a.shape_is(a.flt(*bias, "bias"), "bias", Shape{w.shape[0]});
  return do_conv2d(x, w, bias, stride, pad_top, pad_left, pad_bottom, pad_right);
}

Tensor Backend::upsample_nearest2x(const Tensor& x) {
  Args a(*this, "upsample_nearest2x");
  a.rank(a.flt(x, "x"), "x", 4, "[B, C, H, W]");
  return do_upsample_nearest2x(x);
}

Tensor Backend::concat(const Tensor& x, const Tensor& y, int axis) {
  Args a(*this, "concat");
  a.present(x, "a");
  a.present(y, "b");
  if (x.dtype != y.dtype) a.bad("dtypes differ: a " + describe(x) + ", b " + describe(y));
  if (y.shape.rank != x.shape.rank) a.bad("ranks differ: a " + x.shape.str() + ", b " + y.shape.str());
  const int ax = a.axis(axis, x.shape.rank);
  for (int i = 0; i < x.shape.rank; ++i)
    if (i != ax && x.shape[i] != y.shape[i])
      a.bad("a " + x.shape.str() + " and b " + y.shape.str() + " differ outside axis " + std::to_string(ax));
  return do_concat(x, y, ax);
}

Tensor Backend::slice(const Tensor& x, int axis, int64_t start, int64_t len) {
  Args a(*this, "slice");
  a.present(x, "x");
  const int ax = a.axis(axis, x.shape.rank);
  if (start < 0 || len < 0 || start + len > x.shape[ax])
    a.bad("range [" + num(start) + ", " + num(start + len) + ") outside axis " + std::to_string(ax) + " of x " +
          x.shape.str());
  return do_slice(x, ax, start, len);
}

Tensor Backend::transpose_last2(const Tensor& x) {
  Args a(*this, "transpose_last2");
  a.present(x, "x");
  if (x.dtype == DType::I32 || x.shape.rank < 2) a.bad("x must be a float tensor of rank >= 2, got " + describe(x));
  return do_transpose_last2(x);
}

Tensor Backend::download(const Tensor& t) {
  Args(*this, "download").present(t, "t");
  return do_download(t);
}

Tensor Backend::pin_host(const Tensor& host) {
  Args(*this, "pin_host").host(host, "host");
  return do_pin_host(host);
}

Tensor Backend::upload_async(const Tensor& host) {
  Args(*this, "upload_async").host(host, "host");
  return do_upload_async(host);
}

void Backend::await_upload(const Tensor& t) {
  Args(*this, "await_upload").present(t, "t", /*parts_ok=*/true);  // a weight as uploaded: in parts on the CPU
  do_await_upload(t);
}

}  // namespace ovis
