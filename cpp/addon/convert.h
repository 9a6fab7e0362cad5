// Argument validation and conversion between JS values and ovis::Tensor (JS thread only).
// Every reader throws ovis::Error("OVIS_BAD_ARGUMENT", ...) naming the argument; inputs are copied
// into C++-owned memory so JS may change or free its arrays while the job waits or runs.
#pragma once
#include <string>
#include <vector>

#include <napi.h>

#include "core/tensor.h"
#include "model/vae_tiled.h"

namespace ovis::addon {

// An array of 1..6 positive integers.
Shape read_shape(const Napi::Value& value, const std::string& what);
// A Float32Array / Int32Array whose length matches `shape`, copied into a host tensor.
Tensor read_f32(const Napi::Value& value, const Shape& shape, const std::string& what);
Tensor read_i32(const Napi::Value& value, const Shape& shape, const std::string& what);
// A Float32Array of any length (at least min_length), copied.
std::vector<float> read_f32_vector(const Napi::Value& value, size_t min_length, const std::string& what);
// A NativeTensor object { data: Float32Array, shape: number[] }, copied.
Tensor read_tensor(const Napi::Value& value, const std::string& what);

std::string read_string(const Napi::Value& value, const std::string& what);
bool read_bool(const Napi::Value& value, const std::string& what);
// A finite number.
double read_number(const Napi::Value& value, const std::string& what);
// An integer in [min, max].
int read_int(const Napi::Value& value, int min, int max, const std::string& what);
// value must be a plain object (not null/array/function).
Napi::Object read_object(const Napi::Value& value, const std::string& what);
// { mode: 'off' | 'auto' | 'fixed', tile, overlap }; undefined = auto. Tile and overlap are checked by the engine.
VaeTiling read_vae_tiling(const Napi::Value& value, const std::string& what);
// { mode: 'off' | 'auto' | 'fixed', tile, overlap }; undefined = auto. Tile and overlap are checked by the engine.
VaeTiling read_vae_tiling(const Napi::Value& value, const std::string& what);

// A new Float32Array with the tensor's values (any float dtype, host memory).
Napi::Float32Array to_js_array(Napi::Env env, const Tensor& t);
// { data: Float32Array, shape: number[] }.
Napi::Object to_js_tensor(Napi::Env env, const Tensor& t);

}  // namespace ovis::addon
