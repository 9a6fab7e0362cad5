#include "addon/engine_wrap.h"

#include <cctype>
#include <utility>

#include "addon/convert.h"
#include "addon/limits.h"
#include "core/error.h"
#include "io/plan.h"

namespace ovis::addon {
namespace {

using MakeValue = Bridge::MakeValue;

// "cpu", "cuda" or "cuda:N" (N: 1 to kMaxDeviceDigits digits), as lib/native/engine-limits.ts.
bool valid_device_name(const std::string& d) {
  if (d == "cpu" || d == "cuda") return true;
  const size_t prefix = 5;  // "cuda:"
  if (d.rfind("cuda:", 0) != 0 || d.size() == prefix || d.size() > prefix + kMaxDeviceDigits) return false;
  for (size_t i = 5; i < d.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(d[i]))) return false;
  }
  return true;
}

Engine& loaded(const std::unique_ptr<Engine>& engine, const char* method) {
  if (!engine) fail("OVIS_BAD_ARGUMENT", std::string(method) + "() needs a loaded engine: call load() first");
  return *engine;
}

MakeValue tensor_value(Tensor t) {
  return [t = std::move(t)](Napi::Env env) -> Napi::Value { return to_js_tensor(env, t); };
}

Napi::Value optional_arg(const Napi::CallbackInfo& info, size_t i) {
  return i < info.Length() ? info[i] : info.Env().Undefined();
}

// The optional image-to-image, preview and batching fields of a generate request.
void read_img2img_and_preview(const Napi::Object& req, const Shape& noise_shape, GenerateRequest& r) {
  Napi::Value image = req.Get("initImage");
  if (!image.IsUndefined()) {
    const Shape shape{1, 3, 8 * noise_shape[2], 8 * noise_shape[3]};
    r.init_image = read_f32(image, shape, "request.initImage");
    r.strength = read_number(req.Get("strength"), "request.strength");
  }
  Napi::Value preview = req.Get("preview");
  if (!preview.IsUndefined()) {
    const std::string kind = read_string(preview, "request.preview");
    if (kind == "latent")
      r.preview = PreviewKind::Latent;
    else if (kind == "vae")
      r.preview = PreviewKind::Vae;
    else if (kind != "none")
      fail("OVIS_BAD_ARGUMENT", "request.preview must be 'none', 'latent' or 'vae', got '" + kind + "'");
  }
  Napi::Value every = req.Get("previewEvery");
  if (!every.IsUndefined()) r.preview_every = read_int(every, 1, 1 << 20, "request.previewEvery");
  Napi::Value max_batch = req.Get("maxBatch");
  if (!max_batch.IsUndefined()) r.max_batch = read_int(max_batch, 0, 1 << 20, "request.maxBatch");
}

// The request object of generate(), checked and copied (JS thread).
GenerateRequest read_generate_request(const Napi::Object& req) {
  GenerateRequest r;
  const int tokens = read_int(req.Get("tokens"), 1, 1 << 20, "request.tokens");
  const Shape token_shape{1, tokens};
  r.ids = read_i32(req.Get("ids"), token_shape, "request.ids");
  r.mask = read_i32(req.Get("mask"), token_shape, "request.mask");
  Napi::Value neg_ids = req.Get("negIds"), neg_mask = req.Get("negMask");
  if (!neg_ids.IsUndefined() || !neg_mask.IsUndefined()) {
    r.neg_ids = read_i32(neg_ids, token_shape, "request.negIds");
    r.neg_mask = read_i32(neg_mask, token_shape, "request.negMask");
  }
  r.drop_prefix = read_int(req.Get("dropPrefix"), 0, tokens - 1, "request.dropPrefix");
  const Shape noise_shape = read_shape(req.Get("noiseShape"), "request.noiseShape");
  if (noise_shape.rank != 4) {
    fail("OVIS_BAD_ARGUMENT", "request.noiseShape must be [B, C, H/8, W/8], got " + noise_shape.str());
  }
  r.noise = read_f32(req.Get("noise"), noise_shape, "request.noise");
  r.sigmas = read_f32_vector(req.Get("sigmas"), 2, "request.sigmas");
  r.guidance = float(read_number(req.Get("guidance"), "request.guidance"));
  Napi::Value report = req.Get("reportLatents");
  r.report_latents = report.IsUndefined() ? false : read_bool(report, "request.reportLatents");
  read_img2img_and_preview(req, noise_shape, r);
  r.vae_tiling = read_vae_tiling(req.Get("vaeTiling"), "request.vaeTiling");
  return r;
}

// A step event for onStep, built on the JS thread from a copy taken on the worker.
MakeValue step_event_value(const StepInfo& s) {
  Tensor latents;
  if (s.latents != nullptr && s.latents->defined()) {
    latents = host_f32(s.latents->shape);
    convert_to_f32(s.latents->data, s.latents->dtype, latents.ptr<float>(), size_t(latents.numel()));
  }
  Tensor preview;
  if (s.preview != nullptr && s.preview->defined()) preview = *s.preview;  // a fresh host tensor per step
  return [step = s.step, steps = s.steps, sigma = s.sigma, latents, preview](Napi::Env env) -> Napi::Value {
    Napi::Object e = Napi::Object::New(env);
    e.Set("step", Napi::Number::New(env, step));
    e.Set("steps", Napi::Number::New(env, steps));
    e.Set("sigma", Napi::Number::New(env, sigma));
    if (latents.defined()) e.Set("latents", to_js_array(env, latents));
    if (preview.defined()) e.Set("preview", to_js_tensor(env, preview));
    return e;
  };
}

MakeValue generate_result_value(GenerateResult g) {
  return [g = std::move(g)](Napi::Env env) -> Napi::Value {
    Napi::Object out = Napi::Object::New(env);
    out.Set("image", to_js_tensor(env, g.image));
    out.Set("latents", to_js_tensor(env, g.latents));
    out.Set("promptEmbeds", to_js_tensor(env, g.prompt_embeds));
    if (g.negative_embeds.defined()) out.Set("negativeEmbeds", to_js_tensor(env, g.negative_embeds));
    out.Set("msText", Napi::Number::New(env, g.ms_text));
    out.Set("msDenoise", Napi::Number::New(env, g.ms_denoise));
    out.Set("msDecode", Napi::Number::New(env, g.ms_decode));
    return out;
  };
}

}  // namespace

Napi::Function EngineWrap::define(Napi::Env env) {
  return DefineClass(env, "Engine",
                     {
                         InstanceMethod<&EngineWrap::load>("load"),
                         InstanceMethod<&EngineWrap::encode_text>("encodeText"),
                         InstanceMethod<&EngineWrap::dit_forward>("ditForward"),
                         InstanceMethod<&EngineWrap::vae_decode>("vaeDecode"),
                         InstanceMethod<&EngineWrap::vae_encode>("vaeEncode"),
                         InstanceMethod<&EngineWrap::generate>("generate"),
                         InstanceMethod<&EngineWrap::cancel>("cancel"),
                         InstanceMethod<&EngineWrap::dispose>("dispose"),
                         InstanceAccessor<&EngineWrap::get_backend_name>("backendName"),
                         InstanceAccessor<&EngineWrap::get_disposed>("disposed"),
                     });
}

EngineWrap::EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info) {
  Napi::Env env = info.Env();
  native_ = std::make_shared<Native>();
  try {
    Napi::Object options = read_object(optional_arg(info, 0), "Engine options");
    Napi::Value device = options.Get("device");
    if (!device.IsUndefined()) native_->options.backend.device = read_string(device, "options.device");
    if (!valid_device_name(native_->options.backend.device)) {
      fail("OVIS_BAD_ARGUMENT",
           "options.device must be 'cpu', 'cuda' or 'cuda:N', got '" + native_->options.backend.device + "'");
    }
    Napi::Value threads = options.Get("threads");
    if (!threads.IsUndefined()) native_->options.backend.threads = read_int(threads, 0, kMaxThreads, "options.threads");
    Napi::Value fp32 = options.Get("fp32");
    if (!fp32.IsUndefined()) native_->options.backend.fp32 = read_bool(fp32, "options.fp32");
    Napi::Value cpu_bf16 = options.Get("cpuBf16");
    if (!cpu_bf16.IsUndefined()) native_->options.backend.cpu_bf16 = read_bool(cpu_bf16, "options.cpuBf16");
    Napi::Value keep_text = options.Get("keepTextEncoder");
    if (!keep_text.IsUndefined()) native_->options.keep_text_encoder = read_bool(keep_text, "options.keepTextEncoder");
    Napi::Value offload = options.Get("offload");
    if (!offload.IsUndefined()) native_->options.offload = parse_offload_mode(read_string(offload, "options.offload"));
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw to_js_error(env, describe_current_exception());
  }
  std::shared_ptr<Native> native = native_;
  bridge_ = Bridge::create(env, info.This().As<Napi::Object>(), [native] { native->engine.reset(); });
}

EngineWrap::~EngineWrap() {
  if (bridge_) bridge_->shutdown_from_finalizer();
}

template <class MakeWork>
Napi::Value EngineWrap::queue(const Napi::CallbackInfo& info, Napi::Value on_step, MakeWork make_work) {
  Napi::Env env = info.Env();
  if (bridge_->disposed()) return Bridge::rejected(env, {"OVIS_DISPOSED", "the engine was disposed"});
  Bridge::Work work;
  try {
    if (!on_step.IsUndefined() && !on_step.IsFunction()) {
      fail("OVIS_BAD_ARGUMENT", "onStep must be a function or undefined");
    }
    work = make_work();
  } catch (...) {
    return Bridge::rejected(env, describe_current_exception());
  }
  return bridge_->enqueue(env, std::move(work), on_step);
}

Napi::Value EngineWrap::load(const Napi::CallbackInfo& info) {
  return queue(info, info.Env().Undefined(), [&]() -> Bridge::Work {
    std::string text = read_string(optional_arg(info, 0), "planText");
    return [this, native = native_, text = std::move(text)](Bridge::JobContext&) -> MakeValue {
      WeightPlan plan = parse_plan(text);
      native->engine.reset();  // free the previous model before loading the next
      native->engine = std::make_unique<Engine>(plan, native->options);
      std::string name = native->engine->backend_name();
      // Runs on the JS thread while the call is pending, so this object is alive.
      return [this, name](Napi::Env env) -> Napi::Value {
        backend_name_ = name;
        return env.Undefined();
      };
    };
  });
}

Napi::Value EngineWrap::encode_text(const Napi::CallbackInfo& info) {
  return queue(info, info.Env().Undefined(), [&]() -> Bridge::Work {
    const Shape shape = read_shape(optional_arg(info, 2), "shape");
    if (shape.rank != 2) fail("OVIS_BAD_ARGUMENT", "shape must be [batch, tokens], got " + shape.str());
    Tensor ids = read_i32(optional_arg(info, 0), shape, "ids");
    Tensor mask = read_i32(optional_arg(info, 1), shape, "mask");
    return [native = native_, ids = std::move(ids), mask = std::move(mask)](Bridge::JobContext& job) {
      return tensor_value(loaded(native->engine, "encodeText").encode_text(ids, mask, &job.cancel));
    };
  });
}

Napi::Value EngineWrap::dit_forward(const Napi::CallbackInfo& info) {
  return queue(info, info.Env().Undefined(), [&]() -> Bridge::Work {
    Tensor x = read_tensor(optional_arg(info, 0), "x");
    Tensor ctx = read_tensor(optional_arg(info, 1), "ctx");
    Tensor t = read_tensor(optional_arg(info, 2), "t");
    Tensor img_ids = read_tensor(optional_arg(info, 3), "imgIds");
    Tensor txt_ids = read_tensor(optional_arg(info, 4), "txtIds");
    return [native = native_, x = std::move(x), ctx = std::move(ctx), t = std::move(t), img_ids = std::move(img_ids),
            txt_ids = std::move(txt_ids)](Bridge::JobContext& job) {
      return tensor_value(loaded(native->engine, "ditForward").dit_forward(x, ctx, t, img_ids, txt_ids, &job.cancel));
    };
  });
}

Napi::Value EngineWrap::vae_decode(const Napi::CallbackInfo& info) {
  return queue(info, info.Env().Undefined(), [&]() -> Bridge::Work {
    Tensor z = read_tensor(optional_arg(info, 0), "z");
    const VaeTiling tiling = read_vae_tiling(optional_arg(info, 1), "tiling");
    return [native = native_, z = std::move(z), tiling](Bridge::JobContext& job) {
      return tensor_value(loaded(native->engine, "vaeDecode").vae_decode(z, &job.cancel, tiling));
    };
  });
}

Napi::Value EngineWrap::vae_encode(const Napi::CallbackInfo& info) {
  return queue(info, info.Env().Undefined(), [&]() -> Bridge::Work {
    Tensor image = read_tensor(optional_arg(info, 0), "image");
    const VaeTiling tiling = read_vae_tiling(optional_arg(info, 1), "tiling");
    return [native = native_, image = std::move(image), tiling](Bridge::JobContext& job) -> MakeValue {
      Tensor mean, logvar;
      loaded(native->engine, "vaeEncode").vae_encode(image, &mean, &logvar, &job.cancel, tiling);
      return [mean, logvar](Napi::Env env) -> Napi::Value {
        Napi::Object out = Napi::Object::New(env);
        out.Set("mean", to_js_tensor(env, mean));
        out.Set("logvar", to_js_tensor(env, logvar));
        return out;
      };
    };
  });
}

Napi::Value EngineWrap::generate(const Napi::CallbackInfo& info) {
  Napi::Value on_step = optional_arg(info, 1);
  return queue(info, on_step, [&]() -> Bridge::Work {
    GenerateRequest r = read_generate_request(read_object(optional_arg(info, 0), "request"));
    return [native = native_, r = std::move(r)](Bridge::JobContext& job) -> MakeValue {
      StepCallback on_step_cb = [&job](const StepInfo& s) { job.emit_step(step_event_value(s)); };
      GenerateResult g = loaded(native->engine, "generate").generate(r, on_step_cb, &job.cancel);
      return generate_result_value(std::move(g));
    };
  });
}

Napi::Value EngineWrap::cancel(const Napi::CallbackInfo& info) {
  bridge_->cancel();
  return info.Env().Undefined();
}

Napi::Value EngineWrap::dispose(const Napi::CallbackInfo& info) { return bridge_->dispose(info.Env()); }

Napi::Value EngineWrap::get_backend_name(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), backend_name_);
}

Napi::Value EngineWrap::get_disposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), bridge_->disposed());
}

}  // namespace ovis::addon
