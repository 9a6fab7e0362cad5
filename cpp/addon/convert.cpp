#include "addon/convert.h"

#include <cmath>
#include <cstring>

#include "core/error.h"

namespace ovis::addon {
namespace {

[[noreturn]] void bad(const std::string& what, const std::string& expected) {
  fail("OVIS_BAD_ARGUMENT", what + " must be " + expected);
}

// Largest element count accepted at the boundary (2^40): far beyond any real input, small enough
// that byte counts never overflow.
constexpr int64_t kMaxElements = int64_t(1) << 40;

Napi::TypedArray read_typed_array(const Napi::Value& value, napi_typedarray_type type, const char* type_name,
                                  const Shape& shape, const std::string& what) {
  if (!value.IsTypedArray()) bad(what, std::string("a ") + type_name);
  Napi::TypedArray array = value.As<Napi::TypedArray>();
  if (array.TypedArrayType() != type) bad(what, std::string("a ") + type_name);
  if (array.ArrayBuffer().IsDetached()) bad(what, std::string("a ") + type_name + " whose buffer is not detached");
  if (int64_t(array.ElementLength()) != shape.numel()) {
    fail("OVIS_BAD_ARGUMENT", what + " has " + std::to_string(array.ElementLength()) + " elements but its shape " +
                                  shape.str() + " needs " + std::to_string(shape.numel()));
  }
  return array;
}

const void* typed_array_data(const Napi::TypedArray& array) {
  return static_cast<const uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
}

}  // namespace

Shape read_shape(const Napi::Value& value, const std::string& what) {
  const std::string expected = "an array of 1 to 6 positive integers";
  if (!value.IsArray()) bad(what, expected);
  Napi::Array array = value.As<Napi::Array>();
  const uint32_t rank = array.Length();
  if (rank < 1 || rank > 6) bad(what, expected);
  std::vector<int64_t> dims;
  int64_t numel = 1;
  for (uint32_t i = 0; i < rank; ++i) {
    Napi::Value d = array.Get(i);
    if (!d.IsNumber()) bad(what, expected);
    const double x = d.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(x) || x < 1 || x != std::floor(x) || x > double(kMaxElements)) bad(what, expected);
    numel *= int64_t(x);
    if (numel > kMaxElements) bad(what, "a shape with at most 2^40 elements");
    dims.push_back(int64_t(x));
  }
  return Shape(dims);
}

Tensor read_f32(const Napi::Value& value, const Shape& shape, const std::string& what) {
  Napi::TypedArray array = read_typed_array(value, napi_float32_array, "Float32Array", shape, what);
  Tensor t = host_alloc(shape, DType::F32);
  if (t.nbytes() > 0) std::memcpy(t.data, typed_array_data(array), t.nbytes());
  return t;
}

Tensor read_i32(const Napi::Value& value, const Shape& shape, const std::string& what) {
  Napi::TypedArray array = read_typed_array(value, napi_int32_array, "Int32Array", shape, what);
  Tensor t = host_alloc(shape, DType::I32);
  if (t.nbytes() > 0) std::memcpy(t.data, typed_array_data(array), t.nbytes());
  return t;
}

std::vector<float> read_f32_vector(const Napi::Value& value, size_t min_length, const std::string& what) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    bad(what, "a Float32Array");
  }
  Napi::Float32Array array = value.As<Napi::Float32Array>();
  if (array.ArrayBuffer().IsDetached()) bad(what, "a Float32Array whose buffer is not detached");
  if (array.ElementLength() < min_length)
    bad(what, "a Float32Array of at least " + std::to_string(min_length) + " values");
  const float* p = static_cast<const float*>(typed_array_data(array));
  return std::vector<float>(p, p + array.ElementLength());
}

Tensor read_tensor(const Napi::Value& value, const std::string& what) {
  Napi::Object obj = read_object(value, what);
  const Shape shape = read_shape(obj.Get("shape"), what + ".shape");
  return read_f32(obj.Get("data"), shape, what + ".data");
}

std::string read_string(const Napi::Value& value, const std::string& what) {
  if (!value.IsString()) bad(what, "a string");
  return value.As<Napi::String>().Utf8Value();
}

bool read_bool(const Napi::Value& value, const std::string& what) {
  if (!value.IsBoolean()) bad(what, "a boolean");
  return value.As<Napi::Boolean>().Value();
}

double read_number(const Napi::Value& value, const std::string& what) {
  if (!value.IsNumber()) bad(what, "a finite number");
  const double x = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(x)) bad(what, "a finite number");
  return x;
}

int read_int(const Napi::Value& value, int min, int max, const std::string& what) {
  const std::string expected = "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  if (!value.IsNumber()) bad(what, expected);
  const double x = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(x) || x != std::floor(x) || x < min || x > max) bad(what, expected);
  return int(x);
}

Napi::Object read_object(const Napi::Value& value, const std::string& what) {
  if (!value.IsObject() || value.IsArray() || value.IsFunction() || value.IsTypedArray()) bad(what, "an object");
  return value.As<Napi::Object>();
}

Napi::Float32Array to_js_array(Napi::Env env, const Tensor& t) {
  if (t.device != DeviceKind::Host || t.dtype == DType::I32) {
    fail("OVIS_INTERNAL", "engine returned a non-host or integer tensor");
  }
  const size_t n = size_t(t.numel());
  Napi::Float32Array out = Napi::Float32Array::New(env, n);
  if (n == 0) return out;
  if (t.dtype == DType::F32) {
    std::memcpy(out.Data(), t.data, n * sizeof(float));
  } else {
    convert_to_f32(t.data, t.dtype, out.Data(), n);
  }
  return out;
}

Napi::Object to_js_tensor(Napi::Env env, const Tensor& t) {
  Napi::Object obj = Napi::Object::New(env);
  obj.Set("data", to_js_array(env, t));
  Napi::Array shape = Napi::Array::New(env, size_t(t.shape.rank));
  for (int i = 0; i < t.shape.rank; ++i) shape.Set(uint32_t(i), Napi::Number::New(env, double(t.shape.dims[i])));
  obj.Set("shape", shape);
  return obj;
}

VaeTiling read_vae_tiling(const Napi::Value& value, const std::string& what) {
  VaeTiling t;
  if (value.IsUndefined()) return t;
  Napi::Object o = read_object(value, what);
  const std::string mode = read_string(o.Get("mode"), what + ".mode");
  if (mode == "off")
    t.mode = VaeTiling::Mode::Off;
  else if (mode == "fixed")
    t.mode = VaeTiling::Mode::Fixed;
  else if (mode != "auto")
    fail("OVIS_BAD_ARGUMENT", what + ".mode must be 'off', 'auto' or 'fixed', got '" + mode + "'");
  if (t.mode != VaeTiling::Mode::Fixed) return t;
  t.tile = read_int(o.Get("tile"), 1, 1 << 20, what + ".tile");
  t.overlap = read_number(o.Get("overlap"), what + ".overlap");
  return t;
}

}  // namespace ovis::addon
