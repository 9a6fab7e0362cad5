// Turning C++ failures into JS errors that carry a stable `code` (see cpp/engine/core/error.h).
#pragma once
#include <exception>
#include <string>

#include <napi.h>

namespace ovis::addon {

// A failure captured on the worker thread, carried to the JS thread as plain data.
struct Failure {
  std::string code;
  std::string message;
};

// Classifies the exception currently being handled (call inside a catch block):
// ovis::Error keeps its code, std::bad_alloc -> OVIS_OUT_OF_MEMORY, anything else -> OVIS_INTERNAL.
Failure describe_current_exception();

// A JS Error with `.code` set; OVIS_BAD_ARGUMENT gives a TypeError and ABORT_ERR an AbortError name.
Napi::Error to_js_error(Napi::Env env, const Failure& failure);

}  // namespace ovis::addon
