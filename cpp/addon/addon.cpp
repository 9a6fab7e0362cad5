// Module entry: exports Engine, backends(), cpuFeatures(), cudaDeviceCount(), cudaInfo() and version
// (types/native.d.ts).
#include <napi.h>

#include "addon/engine_wrap.h"
#include "core/backend.h"
#include "cpu/simd/cpu_features.h"
#ifdef OVIS_WITH_CUDA
#include "cuda_info.h"
#endif

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

// { avx2, avx512, avx512bf16 }: the CPU code paths this process may use (after OVIS_CPU_ISA). TS reads
// avx512bf16 to say when precision 'bf16' on the CPU falls back to f32.
Napi::Value cpu_features(const Napi::CallbackInfo& info) {
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("avx2", Napi::Boolean::New(info.Env(), ovis::cpu::use_avx2()));
  out.Set("avx512", Napi::Boolean::New(info.Env(), ovis::cpu::use_avx512()));
  out.Set("avx512bf16", Napi::Boolean::New(info.Env(), ovis::cpu::use_avx512_bf16()));
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

// { driverVersion, runtimeVersion, archs, error, devices: [{ name, major, minor, totalMemory }] };
// undefined in a CPU-only build. Read by the CUDA probe child and `ovis-image doctor`.
Napi::Value cuda_info(const Napi::CallbackInfo& info) {
#ifdef OVIS_WITH_CUDA
  const ovis::cuda::CudaInfo c = ovis::cuda::cuda_info();
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("driverVersion", c.driver_version);
  out.Set("runtimeVersion", c.runtime_version);
  out.Set("archs", c.archs);
  out.Set("error", c.error);
  Napi::Array devices = Napi::Array::New(env, c.devices.size());
  for (uint32_t i = 0; i < c.devices.size(); ++i) {
    Napi::Object d = Napi::Object::New(env);
    d.Set("name", c.devices[i].name);
    d.Set("major", c.devices[i].major);
    d.Set("minor", c.devices[i].minor);
    d.Set("totalMemory", static_cast<double>(c.devices[i].total_memory));
    devices.Set(i, d);
  }
  out.Set("devices", devices);
  return out;
#else
  return info.Env().Undefined();
#endif
}

Napi::Object init(Napi::Env env, Napi::Object exports) {
  exports.Set("Engine", ovis::addon::EngineWrap::define(env));
  exports.Set("backends", Napi::Function::New<backends>(env, "backends"));
  exports.Set("cpuFeatures", Napi::Function::New<cpu_features>(env, "cpuFeatures"));
  exports.Set("cudaDeviceCount", Napi::Function::New<cuda_device_count>(env, "cudaDeviceCount"));
  exports.Set("cudaInfo", Napi::Function::New<cuda_info>(env, "cudaInfo"));
  exports.Set("version", Napi::String::New(env, OVIS_VERSION));
  return exports;
}

}  // namespace

NODE_API_MODULE(ovis_image, init)
