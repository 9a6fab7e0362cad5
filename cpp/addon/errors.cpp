#include "addon/errors.h"

#include <new>

#include "core/error.h"

namespace ovis::addon {

Failure describe_current_exception() {
  try {
    throw;
  } catch (const ovis::Error& e) {
    return {e.code(), e.what()};
  } catch (const std::bad_alloc&) {
    return {"OVIS_OUT_OF_MEMORY", "out of host memory"};
  } catch (const Napi::Error& e) {
    // Only reachable on the JS thread (argument conversion); keep the JS message.
    return {"OVIS_BAD_ARGUMENT", e.Message()};
  } catch (const std::exception& e) {
    return {"OVIS_INTERNAL", std::string("internal error: ") + e.what()};
  } catch (...) {
    return {"OVIS_INTERNAL", "internal error: unknown exception"};
  }
}

Napi::Error to_js_error(Napi::Env env, const Failure& failure) {
  Napi::Error error = failure.code == "OVIS_BAD_ARGUMENT" ? Napi::TypeError::New(env, failure.message)
                                                          : Napi::Error::New(env, failure.message);
  error.Set("code", Napi::String::New(env, failure.code));
  if (failure.code == "ABORT_ERR") error.Set("name", Napi::String::New(env, "AbortError"));
  return error;
}

}  // namespace ovis::addon
