// Module entry: exports Engine, backends(), cudaDeviceCount() and version (types/native.d.ts).
#include <napi.h>

#include "addon/engine_wrap.h"
#include "core/backend.h"

#ifndef OVIS_VERSION
#define OVIS_VERSION "0.1.0"  // keep equal to package.json (a test checks it)
#endif

namespace {

Napi::Value backends(const Napi::CallbackInfo& info) {
  Napi::Array out = Napi::Array::New(info.Env());
  uint32_t n = 0;
  out.Set(n++, Napi::String::New(info.Env(), "cpu"));
#ifdef OVIS_WITH_CUDA
  out.Set(n++, Napi::String::New(info.Env(), "cuda"));
#endif
  return out;
}

Napi::Value cuda_device_count(const Napi::CallbackInfo& info) {
  int count = 0;
#ifdef OVIS_WITH_CUDA
  try {
    count = ovis::cuda_device_count();
  } catch (...) {
    count = 0;  // no driver or runtime: report none rather than fail
  }
#endif
  return Napi::Number::New(info.Env(), count);
}

Napi::Object init(Napi::Env env, Napi::Object exports) {
  exports.Set("Engine", ovis::addon::EngineWrap::define(env));
  exports.Set("backends", Napi::Function::New<backends>(env, "backends"));
  exports.Set("cudaDeviceCount", Napi::Function::New<cuda_device_count>(env, "cudaDeviceCount"));
  exports.Set("version", Napi::String::New(env, OVIS_VERSION));
  return exports;
}

}  // namespace

NODE_API_MODULE(ovis_image, init)
