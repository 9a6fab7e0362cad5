// The JS `Engine` class (types/native.d.ts NativeEngine): argument checks on the JS thread, then
// jobs on the engine's own worker thread through a Bridge.
#pragma once
#include <memory>
#include <string>

#include <napi.h>

#include "addon/bridge.h"
#include "engine.h"

namespace ovis::addon {

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  static Napi::Function define(Napi::Env env);
  explicit EngineWrap(const Napi::CallbackInfo& info);
  ~EngineWrap() override;

 private:
  // The C++ engine; touched only by jobs on the worker thread (and freed there when it ends).
  struct Native {
    EngineOptions options;
    std::unique_ptr<Engine> engine;
  };

  Napi::Value load(const Napi::CallbackInfo& info);
  Napi::Value encode_text(const Napi::CallbackInfo& info);
  Napi::Value dit_forward(const Napi::CallbackInfo& info);
  Napi::Value vae_decode(const Napi::CallbackInfo& info);
  Napi::Value vae_encode(const Napi::CallbackInfo& info);
  Napi::Value generate(const Napi::CallbackInfo& info);
  Napi::Value cancel(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);
  Napi::Value get_backend_name(const Napi::CallbackInfo& info);
  Napi::Value get_disposed(const Napi::CallbackInfo& info);

  // Parses arguments with make_work (on the JS thread) and queues the work it returns; argument
  // errors become a rejected promise.
  template <class MakeWork>
  Napi::Value queue(const Napi::CallbackInfo& info, Napi::Value on_step, MakeWork make_work);

  std::shared_ptr<Native> native_;
  std::shared_ptr<Bridge> bridge_;
  std::string backend_name_;  // set when load() resolves
};

}  // namespace ovis::addon
