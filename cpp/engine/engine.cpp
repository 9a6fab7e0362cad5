// Engine: owns the backend, the weights and the three networks; validates inputs at its boundary.
#include "engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <optional>

#include "core/error.h"
#include "core/finite.h"
#include "io/weights.h"
#include "model/img2img.h"
#include "model/latent_preview.h"
#include "model/mmdit.h"
#include "model/qwen3.h"
#include "model/sampler.h"
#include "model/vae.h"
#include "offload_streamer.h"

namespace ovis {

void check_cancel(const CancelFlag* cancel) {
  if (cancel && cancel->load(std::memory_order_relaxed)) throw Error("ABORT_ERR", "aborted");
}

struct Engine::Impl {
  WeightPlan plan;
  bool release_text = false;  // free the text encoder's weights after each round of encoding
  std::unique_ptr<Backend> be;
  std::unique_ptr<WeightStore> weights;
  std::unique_ptr<Qwen3> text;
  std::unique_ptr<MMDiT> dit;
  std::unique_ptr<VaeDecoder> decoder;
  std::unique_ptr<VaeEncoder> encoder;
  OffloadMode offload = OffloadMode::None;
  BlockHooks hooks;
  std::unique_ptr<LayerStreamer> streamer;  // after `weights`: destroyed before it

  void init(const ModelConfig& m, const EngineOptions& options);
  // Image host F32 [1, 3, H, W] in [0, 1] -> its latents [1, C, H/8, W/8]: posterior mean, shifted and scaled.
  Tensor image_latents(Engine& engine, const Tensor& image01, const VaeTiling& tiling, const CancelFlag* cancel);
  // Packed latents host F32 [B, L, 4C] -> images host F32 [B, 3, 8h, 8w]: unscaled, unshifted and decoded
  // one image at a time (bounded memory; each image decodes as it would alone), whole or tiled.
  Tensor decode_packed(const Tensor& packed, int64_t h, int64_t w, const VaeTiling& tiling, const CancelFlag* cancel);
  void start_layer_offload();
  // Steps of Engine::generate.
  // One prompt's conditioning, host F32 [1, T - drop, Ctx]: the given embeddings, or the text encoder's
  // (load_text_weights brings its weights in before the first use).
  Tensor condition(const GenerateRequest& req, const Tensor& embeds, const Tensor& ids, const Tensor& mask,
                   const std::string& what, const std::function<void()>& load_text_weights, const CancelFlag* cancel);
  // Both prompts' conditioning into result (the negative one only with CFG).
  void encode_prompts(const GenerateRequest& req, bool cfg, GenerateResult& result, const CancelFlag* cancel);
  // The unpacked start latents: the noise, or (image-to-image) the noised image latents; trims in.sigmas.
  Tensor start_latents(Engine& engine, const GenerateRequest& req, SamplerInputs& in, const CancelFlag* cancel);
  // Per-step work: the non-finite check, then the caller's step event with its optional preview.
  SamplerHook step_hook(const GenerateRequest& req, const StepCallback& on_step, int64_t h, int64_t w,
                        const CancelFlag* cancel);

  const Qwen3& need_text() const {
    if (!text) fail("OVIS_BAD_WEIGHTS", "the weight plan has no text encoder (no te.* config)");
    return *text;
  }
  const MMDiT& need_dit() const {
    if (!dit) fail("OVIS_BAD_WEIGHTS", "the weight plan has no transformer (no dit.* config)");
    return *dit;
  }
  // z host F32 raw latent -> host F32 image, whole or tiled (tiling 'auto' resolved here).
  Tensor decode(const Tensor& z, const VaeTiling& tiling, const CancelFlag* cancel) {
    const VaeDecoder& dec = need_decoder();
    const VaeConfig& c = plan.vae;
    auto whole = [&](const Tensor& tile) { return be->to_host_f32(dec.forward(*be, be->upload(tile), cancel)); };
    const VaeTiling t = resolve_decode_tiling(tiling, c, z.shape[2], z.shape[3],
                                              tiling.mode == VaeTiling::Mode::Auto ? be->free_memory() : 0);
    if (t.mode == VaeTiling::Mode::Off) return whole(z);
    return run_tiled(z, decode_grid(c, t.tile, t.overlap), whole);
  }
  // image host F32 -> host F32 moments (mean || logvar), whole or tiled.
  Tensor encode(const Tensor& image, const VaeTiling& tiling, const CancelFlag* cancel) {
    const VaeConfig& c = plan.vae;
    auto whole = [&](const Tensor& tile) { return be->to_host_f32(encoder->forward(*be, be->upload(tile), cancel)); };
    const VaeTiling t = resolve_encode_tiling(tiling, c, image.shape[2], image.shape[3],
                                              tiling.mode == VaeTiling::Mode::Auto ? be->free_memory() : 0);
    if (t.mode == VaeTiling::Mode::Off) return whole(image);
    const TileGrid g = encode_grid(c, t.tile, t.overlap);
    OVIS_CHECK_ARG(image.shape[2] % vae_factor(c) == 0 && image.shape[3] % vae_factor(c) == 0,
                   "VAE input height and width must be multiples of " + std::to_string(vae_factor(c)) + ", got " +
                       image.shape.str());
    return run_tiled(image, g, whole);
  }
  const VaeDecoder& need_decoder() const {
    if (!decoder) fail("OVIS_BAD_WEIGHTS", "the weight plan has no VAE (no vae.* config)");
    return *decoder;
  }
};

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

void require_host(const Tensor& t, DType dtype, const std::string& name, const std::string& expected) {
  OVIS_CHECK_ARG(t.data != nullptr, name + " is missing (expected " + expected + ")");
  OVIS_CHECK_ARG(t.device == DeviceKind::Host, name + " must be a host tensor");
  OVIS_CHECK_ARG(t.dtype == dtype,
                 name + " must be " + dtype_name(dtype) + " " + expected + ", got " + dtype_name(t.dtype));
}

bool all_finite(const Tensor& t) {
  const float* p = t.ptr<float>();
  for (int64_t i = 0; i < t.numel(); ++i)
    if (!std::isfinite(p[i])) return false;
  return true;
}

// ids, mask host I32 [B, T]; ids within the vocabulary; mask 0/1. Returns the mask as F32.
Tensor check_tokens(const Tensor& ids, const Tensor& mask, int vocab, const std::string& what) {
  require_host(ids, DType::I32, what + " ids", "[B, T]");
  require_host(mask, DType::I32, what + " mask", "[B, T]");
  OVIS_CHECK_ARG(ids.shape.rank == 2 && ids.shape[0] > 0 && ids.shape[1] > 0,
                 what + " ids must be I32 [B, T], got " + ids.shape.str());
  OVIS_CHECK_ARG(mask.shape == ids.shape,
                 what + " mask must be I32 " + ids.shape.str() + " like the ids, got " + mask.shape.str());
  Tensor maskf = host_f32(mask.shape);
  for (int64_t i = 0; i < ids.numel(); ++i) {
    const int32_t id = ids.ptr<int32_t>()[i];
    OVIS_CHECK_ARG(id >= 0 && id < vocab,
                   what + " ids must be in [0, " + std::to_string(vocab) + "), found " + std::to_string(id));
    const int32_t m = mask.ptr<int32_t>()[i];
    OVIS_CHECK_ARG(m == 0 || m == 1, what + " mask values must be 0 or 1, found " + std::to_string(m));
    maskf.ptr<float>()[i] = float(m);
  }
  return maskf;
}

// (hidden * mask)[:, drop:] on the host: the conditioning the MMDiT reads.
Tensor masked_embeds(const Tensor& hidden, const Tensor& maskf, int drop) {
  const int64_t B = hidden.shape[0], T = hidden.shape[1], H = hidden.shape[2], keep = T - drop;
  Tensor out = host_f32({B, keep, H});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < keep; ++t) {
      const float m = maskf.ptr<float>()[b * T + drop + t];
      const float* src = hidden.ptr<float>() + (b * T + drop + t) * H;
      float* dst = out.ptr<float>() + (b * keep + t) * H;
      for (int64_t h = 0; h < H; ++h) dst[h] = src[h] * m;
    }
  return out;
}

// The text encoder's weights for one round of encoding: reloaded on entry when they were released,
// released again on exit when the engine does not keep them (also when encoding throws). After a
// release the backend's allocator cache is trimmed: the freed blocks go back to the driver, where
// other processes can use them, instead of sitting in size buckets the MMDiT may never ask for.
class TextWeightsInUse {
 public:
  TextWeightsInUse(WeightStore& ws, Backend& be, bool release_after) : ws_(ws), be_(be), release_(release_after) {
    if (release_) ws_.reload(kTextPrefix);
  }
  ~TextWeightsInUse() {
    if (!release_) return;
    try {
      ws_.release(kTextPrefix);
    } catch (...) {
      return;  // release only fails when the weights cannot be reloaded, which init() ruled out.
    }
    try {
      be_.trim();
    } catch (...) {
      // Only an optimisation: a broken device reports itself at the next op.
    }
  }
  TextWeightsInUse(const TextWeightsInUse&) = delete;
  TextWeightsInUse& operator=(const TextWeightsInUse&) = delete;
  static constexpr const char* kTextPrefix = "te.";

 private:
  WeightStore& ws_;
  Backend& be_;
  bool release_;
};

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// True when any tensor name starts with "vae.enc.": the encoder is then expected in full.
template <class Names>
bool has_vae_encoder(const Names& names) {
  for (const auto& n : names)
    if (starts_with(n, "vae.enc.")) return true;
  return false;
}

bool is_dit_block_tensor(const std::string& name) {
  return starts_with(name, "dit.double.") || starts_with(name, "dit.single.");
}

// Device bytes per part of the model (weights from the plan's shapes; activations estimated at 1024²).
OffloadSizes offload_sizes(const WeightPlan& plan) {
  OffloadSizes s;
  for (const PlanTensor& t : plan.tensors) {
    const size_t bytes = dtype_bytes(t.dtype, t.shape.numel());  // block types: whole blocks
    if (starts_with(t.name, "te."))
      s.text_weights += bytes;
    else if (is_dit_block_tensor(t.name))
      s.block_weights += bytes;
    else
      s.other_weights += bytes;
  }
  const size_t tokens = 4096 + 256;  // 1024² image + the prompt
  if (plan.has_dit) s.dit_working = tokens * size_t(plan.dit.mlp_hidden + 6 * plan.dit.dim()) * sizeof(float) * 2;
  if (plan.has_text) s.text_working = 284 * size_t(3 * plan.text.intermediate + 4 * plan.text.hidden) * sizeof(float);
  return s;
}

OffloadMode resolve_offload(const EngineOptions& options, const WeightPlan& plan, Backend& be) {
  if (!options.offload) return OffloadMode::None;
  return choose_offload(*options.offload, offload_sizes(plan), be.free_memory());
}

}  // namespace

void Engine::Impl::init(const ModelConfig& m, const EngineOptions& options) {
  const WeightStore& ws = *weights;
  if (m.has_text) text.reset(new Qwen3(m.text, ws));
  if (m.has_dit) dit.reset(new MMDiT(m.dit, ws));
  if (m.has_vae) {
    decoder.reset(new VaeDecoder(m.vae, ws));
    if (VaeEncoder::present(ws)) encoder.reset(new VaeEncoder(m.vae, ws));
  }
  bool keep = options.keep_text_encoder.value_or(be->device() == DeviceKind::Host);
  if (options.offload) keep = offload == OffloadMode::None;
  release_text = m.has_text && !keep && weights->can_reload(TextWeightsInUse::kTextPrefix);
  // Only the text encoder's loaders may be needed again; the rest would only pin host mappings.
  weights->forget_loaders(
      [&](const std::string& name) { return release_text && starts_with(name, TextWeightsInUse::kTextPrefix); });
}

void Engine::Impl::start_layer_offload() {
  if (offload != OffloadMode::Layers || !dit) return;
  std::vector<std::vector<std::string>> blocks;
  for (int b = 0; b < dit->block_count(); ++b) blocks.push_back(dit->block_tensor_names(*weights, b));
  // Free memory now already excludes the resident weights; keep room for the denoising activations.
  const size_t free_bytes = be->free_memory(), reserve = offload_sizes(plan).dit_working;
  const size_t budget = free_bytes > reserve ? free_bytes - reserve : 0;
  streamer.reset(
      new LayerStreamer(*be, *weights, blocks, plan_layer_offload(block_bytes(*weights, blocks), 0, budget)));
  hooks.before = [this](int b) { streamer->before(b); };
  hooks.after = [this](int b) { streamer->after(b); };
  hooks.abandon = [this] { streamer->reset(); };
  dit->set_block_hooks(&hooks);
}

Engine::Engine(const WeightPlan& plan, const EngineOptions& options) : impl_(new Impl) {
  impl_->plan = plan;
  // Names and shapes first, before mapping or uploading gigabytes.
  std::map<std::string, const PlanTensor*> by_name;
  for (const PlanTensor& t : plan.tensors) by_name[t.name] = &t;
  std::vector<std::string> names;
  for (const PlanTensor& t : plan.tensors) names.push_back(t.name);
  const ModelConfig model = model_config(plan);
  check_model_tensors(model, has_vae_encoder(names), [&](const std::string& name) -> const Shape* {
    auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : &it->second->shape;
  });
  impl_->be = create_backend(options.backend);
  impl_->offload = resolve_offload(options, impl_->plan, *impl_->be);
  // Streamed blocks are never uploaded whole: they stay host views until the streamer pins them.
  std::function<bool(const std::string&)> on_host;
  if (impl_->offload == OffloadMode::Layers) on_host = is_dit_block_tensor;
  impl_->weights.reset(new WeightStore(impl_->plan, *impl_->be, on_host));
  impl_->init(model, options);
  impl_->start_layer_offload();
}

Engine::Engine(std::unique_ptr<Backend> backend, std::unique_ptr<WeightStore> weights, const ModelConfig& model,
               const EngineOptions& options)
    : impl_(new Impl) {
  OVIS_CHECK_ARG(backend != nullptr, "Engine: backend is null");
  OVIS_CHECK_ARG(weights != nullptr, "Engine: weights are null");
  std::vector<std::string> names;
  for (const auto& kv : weights->tensors()) {
    const Tensor& t = kv.second;
    names.push_back(kv.first);
    if (t.device != backend->device())
      fail("OVIS_BAD_WEIGHTS", "tensor " + kv.first + " is not on the engine's backend " + backend->name());
    if (t.dtype == DType::I32) fail("OVIS_BAD_WEIGHTS", "tensor " + kv.first + " must be f32, f16 or bf16, got i32");
  }
  check_model_tensors(model, has_vae_encoder(names), [&](const std::string& name) -> const Shape* {
    const Tensor* t = weights->find(name);
    return t ? &t->shape : nullptr;
  });
  impl_->plan.has_dit = model.has_dit;
  impl_->plan.has_text = model.has_text;
  impl_->plan.has_vae = model.has_vae;
  impl_->plan.dit = model.dit;
  impl_->plan.text = model.text;
  impl_->plan.vae = model.vae;
  impl_->be = std::move(backend);
  impl_->weights = std::move(weights);
  impl_->offload = resolve_offload(options, impl_->plan, *impl_->be);
  impl_->init(model, options);
  impl_->start_layer_offload();
}

Engine::~Engine() = default;

std::string Engine::backend_name() const { return impl_->be->name(); }
OffloadMode Engine::offload() const { return impl_->offload; }
const OffloadPlan* Engine::layer_plan() const { return impl_->streamer ? &impl_->streamer->plan() : nullptr; }
const WeightPlan& Engine::plan() const { return impl_->plan; }
Backend& Engine::backend() { return *impl_->be; }
bool Engine::text_encoder_resident() const { return impl_->weights->resident(TextWeightsInUse::kTextPrefix); }

Tensor Engine::encode_text(const Tensor& ids, const Tensor& mask, const CancelFlag* cancel) {
  const Qwen3& text = impl_->need_text();
  impl_->weights->check_files_unchanged();
  Backend& be = *impl_->be;
  Tensor maskf = check_tokens(ids, mask, text.config().vocab, "prompt");
  TextWeightsInUse in_use(*impl_->weights, be, impl_->release_text);
  Tensor out = be.to_host_f32(text.forward(be, be.upload(ids), be.upload(maskf), cancel));
  require_finite(out, "the text encoder output");
  return out;
}

Tensor Engine::dit_forward(const Tensor& x, const Tensor& ctx, const Tensor& t, const Tensor& img_ids,
                           const Tensor& txt_ids, const CancelFlag* cancel) {
  const MMDiT& dit = impl_->need_dit();
  impl_->weights->check_files_unchanged();
  const DitConfig& c = dit.config();
  Backend& be = *impl_->be;
  const std::string in = std::to_string(c.in_channels), cd = std::to_string(c.context_dim);
  const std::string axes = std::to_string(c.axes_dims.size());
  require_host(x, DType::F32, "x", "[B, L, " + in + "]");
  require_host(ctx, DType::F32, "ctx", "[B, T, " + cd + "]");
  require_host(t, DType::F32, "t", "[B]");
  require_host(img_ids, DType::F32, "img_ids", "[L, " + axes + "]");
  require_host(txt_ids, DType::F32, "txt_ids", "[T, " + axes + "]");
  OVIS_CHECK_ARG(x.shape.rank == 3 && x.shape[0] > 0 && x.shape[1] > 0 && x.shape[2] == c.in_channels,
                 "x must be [B, L, " + in + "], got " + x.shape.str());
  const int64_t B = x.shape[0], L = x.shape[1];
  OVIS_CHECK_ARG(ctx.shape.rank == 3 && ctx.shape[0] == B && ctx.shape[1] > 0 && ctx.shape[2] == c.context_dim,
                 "ctx must be [" + std::to_string(B) + ", T, " + cd + "], got " + ctx.shape.str());
  const int64_t T = ctx.shape[1];
  OVIS_CHECK_ARG(t.shape.rank == 1 && t.shape[0] == B, "t must be [" + std::to_string(B) + "], got " + t.shape.str());
  OVIS_CHECK_ARG(img_ids.shape == Shape({L, int64_t(c.axes_dims.size())}),
                 "img_ids must be [" + std::to_string(L) + ", " + axes + "], got " + img_ids.shape.str());
  OVIS_CHECK_ARG(txt_ids.shape == Shape({T, int64_t(c.axes_dims.size())}),
                 "txt_ids must be [" + std::to_string(T) + ", " + axes + "], got " + txt_ids.shape.str());
  std::vector<float> sigmas(t.ptr<float>(), t.ptr<float>() + B);
  RopeTables rope = dit.rope(be, txt_ids, img_ids);
  Tensor v = be.to_host_f32(dit.forward(be, be.upload(x), be.upload(ctx), sigmas, rope, cancel));
  require_finite(v, "the MMDiT output");
  return v;
}

Tensor Engine::vae_decode(const Tensor& z, const CancelFlag* cancel, const VaeTiling& tiling) {
  impl_->need_decoder();
  impl_->weights->check_files_unchanged();
  const int lat = impl_->plan.vae.latent_channels;
  require_host(z, DType::F32, "z", "[B, " + std::to_string(lat) + ", h, w]");
  OVIS_CHECK_ARG(z.shape.rank == 4 && z.shape[0] > 0 && z.shape[1] == lat && z.shape[2] > 0 && z.shape[3] > 0,
                 "z must be [B, " + std::to_string(lat) + ", h, w], got " + z.shape.str());
  Tensor out = impl_->decode(z, tiling, cancel);
  require_finite(out, "the VAE decoder output");
  return out;
}

void Engine::vae_encode(const Tensor& image, Tensor* mean, Tensor* logvar, const CancelFlag* cancel,
                        const VaeTiling& tiling) {
  impl_->need_decoder();
  impl_->weights->check_files_unchanged();
  if (!impl_->encoder) fail("OVIS_BAD_WEIGHTS", "the VAE weights have no encoder (vae.enc.* tensors missing)");
  const VaeConfig& c = impl_->plan.vae;
  require_host(image, DType::F32, "image", "[B, " + std::to_string(c.in_channels) + ", H, W]");
  OVIS_CHECK_ARG(image.shape.rank == 4 && image.shape[0] > 0 && image.shape[1] == c.in_channels,
                 "image must be [B, " + std::to_string(c.in_channels) + ", H, W], got " + image.shape.str());
  Tensor moments = impl_->encode(image, tiling, cancel);
  require_finite(moments, "the VAE encoder output");
  const int64_t B = moments.shape[0], C = c.latent_channels, HW = moments.shape[2] * moments.shape[3];
  Shape half({B, C, moments.shape[2], moments.shape[3]});
  Tensor m = host_f32(half), lv = host_f32(half);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < C * HW; ++i) {
      m.ptr<float>()[b * C * HW + i] = moments.ptr<float>()[b * 2 * C * HW + i];
      // Clamped like the reference posterior (diffusers DiagonalGaussianDistribution).
      const float v = moments.ptr<float>()[b * 2 * C * HW + C * HW + i];
      lv.ptr<float>()[b * C * HW + i] = v < -30.0f ? -30.0f : v > 20.0f ? 20.0f : v;
    }
  if (mean) *mean = m;
  if (logvar) *logvar = lv;
}

namespace {

void check_generate_request(const GenerateRequest& req, const DitConfig& dc, const VaeConfig& vc) {
  OVIS_CHECK_ARG(std::isfinite(req.guidance), "guidance must be a finite number");
  OVIS_CHECK_ARG(req.sigmas.size() >= 2,
                 "sigmas must hold steps + 1 values (at least 2), got " + std::to_string(req.sigmas.size()));
  for (float s : req.sigmas) OVIS_CHECK_ARG(std::isfinite(s), "sigmas must be finite");
  const int64_t lat = vc.latent_channels;
  const std::string noise_shape = "[B, " + std::to_string(lat) + ", H/8, W/8] with even H/8 and W/8";
  require_host(req.noise, DType::F32, "noise", noise_shape);
  OVIS_CHECK_ARG(req.noise.shape.rank == 4 && req.noise.shape[0] > 0 && req.noise.shape[1] == lat &&
                     req.noise.shape[2] > 0 && req.noise.shape[3] > 0 && req.noise.shape[2] % 2 == 0 &&
                     req.noise.shape[3] % 2 == 0,
                 "noise must be " + noise_shape + ", got " + req.noise.shape.str());
  OVIS_CHECK_ARG(4 * lat == dc.in_channels, "the transformer takes " + std::to_string(dc.in_channels) +
                                                " channels, 2x2 patches of the VAE latent give " +
                                                std::to_string(4 * lat));
  OVIS_CHECK_ARG(all_finite(req.noise), "noise holds non-finite values");
  OVIS_CHECK_ARG(req.preview_every >= 1, "preview_every must be >= 1, got " + std::to_string(req.preview_every));
  OVIS_CHECK_ARG(req.max_batch >= 0, "max_batch must be >= 0, got " + std::to_string(req.max_batch));
  if (!req.init_image.defined()) return;
  const int steps = int(req.sigmas.size()) - 1;
  const int start = img2img_start_index(steps, req.strength);
  OVIS_CHECK_ARG(start < steps,
                 "strength " + std::to_string(req.strength) + " with " + std::to_string(steps) +
                     " steps leaves no denoising step (int(steps - steps * strength) = " + std::to_string(start) + ")");
  const Shape image_shape{1, vc.in_channels, 8 * req.noise.shape[2], 8 * req.noise.shape[3]};
  require_host(req.init_image, DType::F32, "init_image", image_shape.str());
  OVIS_CHECK_ARG(req.init_image.shape == image_shape,
                 "init_image must be " + image_shape.str() + " (the noise's size), got " + req.init_image.shape.str());
  OVIS_CHECK_ARG(all_finite(req.init_image), "init_image holds non-finite values");
}

}  // namespace

Tensor Engine::Impl::decode_packed(const Tensor& packed, int64_t h, int64_t w, const VaeTiling& tiling,
                                   const CancelFlag* cancel) {
  const VaeConfig& vc = plan.vae;
  Tensor z = unpack_latents(packed, vc.latent_channels, h, w);
  for (int64_t i = 0; i < z.numel(); ++i) z.ptr<float>()[i] = z.ptr<float>()[i] / vc.scaling_factor + vc.shift_factor;
  const int64_t B = z.shape[0];
  Tensor images;
  for (int64_t b = 0; b < B; ++b) {
    check_cancel(cancel);
    const Shape one_shape{1, z.shape[1], h, w};
    Tensor zb = host_view(z.ptr<float>() + b * one_shape.numel(), one_shape, DType::F32);
    Tensor one = decode(zb, tiling, cancel);
    if (B == 1) return one;
    if (!images.defined()) images = host_f32({B, one.shape[1], one.shape[2], one.shape[3]});
    std::copy(one.ptr<float>(), one.ptr<float>() + one.numel(), images.ptr<float>() + b * one.numel());
  }
  return images;
}

Tensor Engine::Impl::image_latents(Engine& engine, const Tensor& image01, const VaeTiling& tiling,
                                   const CancelFlag* cancel) {
  Tensor image = host_f32(image01.shape);
  for (int64_t i = 0; i < image.numel(); ++i) image.ptr<float>()[i] = 2.0f * image01.ptr<float>()[i] - 1.0f;
  Tensor mean;
  engine.vae_encode(image, &mean, nullptr, cancel, tiling);
  const VaeConfig& vc = plan.vae;
  for (int64_t i = 0; i < mean.numel(); ++i)
    mean.ptr<float>()[i] = (mean.ptr<float>()[i] - vc.shift_factor) * vc.scaling_factor;
  return mean;
}

Tensor Engine::Impl::condition(const GenerateRequest& req, const Tensor& embeds, const Tensor& ids, const Tensor& mask,
                               const std::string& what, const std::function<void()>& load_text_weights,
                               const CancelFlag* cancel) {
  const DitConfig& dc = need_dit().config();
  if (embeds.defined()) {
    require_host(embeds, DType::F32, what + " embeddings", "[1, T, " + std::to_string(dc.context_dim) + "]");
    OVIS_CHECK_ARG(
        embeds.shape.rank == 3 && embeds.shape[0] == 1 && embeds.shape[1] > 0 && embeds.shape[2] == dc.context_dim,
        what + " embeddings must be [1, T, " + std::to_string(dc.context_dim) + "], got " + embeds.shape.str());
    Tensor copy = host_f32(embeds.shape);
    convert_to_f32(embeds.data, DType::F32, copy.ptr<float>(), size_t(embeds.numel()));
    return copy;
  }
  const Qwen3& qwen = need_text();
  Tensor maskf = check_tokens(ids, mask, qwen.config().vocab, what);
  OVIS_CHECK_ARG(ids.shape[0] == 1, what + " ids must be [1, T], got " + ids.shape.str());
  OVIS_CHECK_ARG(req.drop_prefix >= 0 && req.drop_prefix < ids.shape[1],
                 "drop_prefix must be in [0, " + std::to_string(ids.shape[1]) + ")");
  OVIS_CHECK_ARG(qwen.config().hidden == dc.context_dim,
                 "the text encoder width " + std::to_string(qwen.config().hidden) +
                     " differs from the transformer context width " + std::to_string(dc.context_dim));
  load_text_weights();
  Tensor hidden = be->to_host_f32(qwen.forward(*be, be->upload(ids), be->upload(maskf), cancel));
  return masked_embeds(hidden, maskf, req.drop_prefix);
}

void Engine::Impl::encode_prompts(const GenerateRequest& req, bool cfg, GenerateResult& result,
                                  const CancelFlag* cancel) {
  std::optional<TextWeightsInUse> in_use;  // made on the first prompt that needs encoding
  const std::function<void()> load_text_weights = [&] {
    if (!in_use) in_use.emplace(*weights, *be, release_text);
  };
  result.prompt_embeds = condition(req, req.prompt_embeds, req.ids, req.mask, "prompt", load_text_weights, cancel);
  require_finite(result.prompt_embeds, "the text encoder output for the prompt");
  if (!cfg) return;  // in_use releases the text weights: not needed while denoising
  result.negative_embeds =
      condition(req, req.negative_embeds, req.neg_ids, req.neg_mask, "negative prompt", load_text_weights, cancel);
  require_finite(result.negative_embeds, "the text encoder output for the negative prompt");
  OVIS_CHECK_ARG(result.negative_embeds.shape == result.prompt_embeds.shape,
                 "negative prompt conditioning must have the prompt's shape " + result.prompt_embeds.shape.str() +
                     ", got " + result.negative_embeds.shape.str());
}

Tensor Engine::Impl::start_latents(Engine& engine, const GenerateRequest& req, SamplerInputs& in,
                                   const CancelFlag* cancel) {
  in.sigmas = req.sigmas;
  if (!req.init_image.defined()) return req.noise;
  const int first = img2img_start_index(int(req.sigmas.size()) - 1, req.strength);
  in.sigmas.erase(in.sigmas.begin(), in.sigmas.begin() + first);
  return img2img_start_latents(req.noise, image_latents(engine, req.init_image, req.vae_tiling, cancel), in.sigmas[0]);
}

SamplerHook Engine::Impl::step_hook(const GenerateRequest& req, const StepCallback& on_step, int64_t h, int64_t w,
                                    const CancelFlag* cancel) {
  // The latents come to the host after every step (L x 64 floats: 1 MB at 1024x1024) to catch
  // NaN/Inf at the step that made them, not as a black image at the end.
  return [this, &req, &on_step, h, w, cancel](const SamplerStep& s) {
    Tensor latents = be->to_host_f32(*s.x);
    if (const char* kind = first_non_finite(latents))
      fail("OVIS_NON_FINITE", std::string("latents became ") + kind + " at step " + std::to_string(s.step) + " of " +
                                  std::to_string(s.steps) + ": the MMDiT output is not finite" + kNonFiniteHint);
    if (!on_step) return;
    StepInfo info;
    info.step = s.step;
    info.steps = s.steps;
    info.sigma = s.sigma;
    if (req.report_latents) info.latents = &latents;
    Tensor preview;
    if (req.preview != PreviewKind::None && s.step % req.preview_every == 0) {
      preview = req.preview == PreviewKind::Latent
                    ? latent_rgb_preview(latents, h, w)
                    : decode_packed(be->to_host_f32(*s.x0), h, w, req.vae_tiling, cancel);
      info.preview = &preview;
    }
    on_step(info);
  };
}

GenerateResult Engine::generate(const GenerateRequest& req, const StepCallback& on_step, const CancelFlag* cancel) {
  const MMDiT& dit = impl_->need_dit();
  impl_->need_decoder();
  impl_->weights->check_files_unchanged();
  const DitConfig& dc = dit.config();
  Backend& be = *impl_->be;
  const bool cfg = req.guidance > 1.0f;
  check_generate_request(req, dc, impl_->plan.vae);  // everything before any work
  if (req.init_image.defined() && !impl_->encoder)
    fail("OVIS_BAD_WEIGHTS",
         "image-to-image needs the VAE encoder, and the VAE weights have none (vae.enc.* tensors missing)");

  GenerateResult result;
  auto t0 = Clock::now();
  impl_->encode_prompts(req, cfg, result, cancel);
  be.sync();
  result.ms_text = ms_since(t0);

  t0 = Clock::now();
  const int64_t h = req.noise.shape[2], w = req.noise.shape[3];
  SamplerInputs in;
  const Tensor start = impl_->start_latents(*this, req, in, cancel);
  const int64_t T = result.prompt_embeds.shape[1];
  const int n_axes = int(dc.axes_dims.size());
  RopeTables rope = dit.rope(be, text_position_ids(T, n_axes), image_position_ids(h / 2, w / 2, n_axes));
  in.x = be.upload(pack_latents(start));
  in.ctx = be.upload(result.prompt_embeds);
  if (cfg) in.ctx_neg = be.upload(result.negative_embeds);
  in.guidance = req.guidance;
  in.max_batch = req.max_batch > 0 ? req.max_batch : max_batch_for(dc, T + (h / 2) * (w / 2), cfg);
  in.x0_every = req.preview == PreviewKind::Vae ? req.preview_every : 0;
  Tensor x = euler_sample(be, dit, in, rope, impl_->step_hook(req, on_step, h, w, cancel), cancel);
  result.latents = be.to_host_f32(x);
  result.ms_denoise = ms_since(t0);

  check_cancel(cancel);
  t0 = Clock::now();
  result.image = impl_->decode_packed(result.latents, h, w, req.vae_tiling, cancel);
  require_finite(result.image, "the VAE decoder output");
  result.ms_decode = ms_since(t0);
  return result;
}

}  // namespace ovis
