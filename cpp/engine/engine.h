// The engine: one model (text encoder, MMDiT, VAE) on one backend. Usable without Node.
// Not thread-safe: one caller at a time (the addon serialises calls on its worker thread).
#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "core/backend.h"
#include "core/tensor.h"
#include "io/canonical_tensors.h"
#include "io/plan.h"
#include "model/vae_tiled.h"
#include "offload_plan.h"

namespace ovis {

class WeightStore;

struct EngineOptions {
  BackendOptions backend;
  // Keep the text encoder's weights on the backend between encodes. When false they are freed after
  // the prompts are encoded and re-uploaded from the host mapping (or the store's loaders) on the next
  // encode: ~3.4 GB less device memory while denoising, for one upload per generate (after each release
  // the backend returns its cached free blocks to the driver, Backend::trim). Unset: true on
  // the CPU (its weights are views of the mapped files, nothing to free), false on a device backend.
  // Weights that cannot be reloaded (an in-memory store without loaders) are always kept.
  std::optional<bool> keep_text_encoder;
  // What stays off the device (offload_plan.h). None keeps everything (keep_text_encoder = true),
  // TextEncoder frees the text encoder while denoising (keep_text_encoder = false), Layers also keeps
  // the MMDiT's blocks on the host and streams a window of them per forward, Auto picks one of these
  // from the backend's free memory. Unset: keep_text_encoder alone decides (today's behaviour).
  std::optional<OffloadMode> offload;
};

// Set to true from any thread to stop work at the next check (between blocks/steps): the running
// call then throws Error("ABORT_ERR") and the engine stays usable.
using CancelFlag = std::atomic<bool>;

struct StepInfo {
  int step = 0;                     // 1-based step just finished
  int steps = 0;                    // denoising steps of this run (image-to-image: fewer than the schedule's)
  float sigma = 0;                  // sigma at the start of that step
  const Tensor* latents = nullptr;  // host F32 [B, L, 64] packed, only when requested
  // Only on preview steps: host F32 [B, 3, h, w], in [-1, 1] like the decoded image ('latent': the
  // latents projected to RGB at 1/8 size; 'vae': x̂0 = x − σ·v decoded at full size).
  const Tensor* preview = nullptr;
};
using StepCallback = std::function<void(const StepInfo&)>;

enum class PreviewKind { None, Latent, Vae };

struct GenerateRequest {
  Tensor ids, mask;          // host I32 [1, T]: the prompt
  Tensor neg_ids, neg_mask;  // host I32 [1, T]: the negative prompt (used when guidance > 1)
  int drop_prefix = 28;      // text-encoder rows dropped (the fixed template prefix)
  // host F32 [B, C, H/8, W/8]: B images denoised together (one MMDiT batch per step, 2B with CFG).
  Tensor noise;
  std::vector<float> sigmas;  // steps + 1 values, last 0
  float guidance = 5.0f;
  bool report_latents = false;
  // Image-to-image (MODEL.md): host F32 [1, 3, H, W] in [0, 1], encoded with the VAE (posterior mean);
  // the schedule is entered at int(N − N·strength), strength in (0, 1]. Undefined: text-to-image.
  Tensor init_image;
  double strength = 1.0;
  PreviewKind preview = PreviewKind::None;
  int preview_every = 1;  // previews on steps where step % preview_every == 0
  // Images per MMDiT call; a larger batch runs as several calls per step. 0: chosen from an estimate
  // of the activations (max_batch_for).
  int max_batch = 0;
  // Optional precomputed conditioning, host F32 [1, T', Ctx] (already masked, prefix dropped). When
  // defined it is used instead of encoding ids/mask (neg_ids/neg_mask): reuse across calls, tests.
  Tensor prompt_embeds, negative_embeds;
  // How the final VAE decode is tiled (default 'auto': whole unless it would not fit free memory).
  VaeTiling vae_tiling;
};

struct GenerateResult {
  Tensor image;            // host F32 [B, 3, H, W] in [-1, 1] (VAE output, not clamped)
  Tensor latents;          // host F32 [B, L, 4C] final packed latents
  Tensor prompt_embeds;    // host F32 [1, T - drop_prefix, Ctx]
  Tensor negative_embeds;  // same, or undefined without CFG
  double ms_text = 0, ms_denoise = 0, ms_decode = 0;
};

class Engine {
 public:
  // Maps the plan's files and uploads the weights. Throws Error (OVIS_BAD_WEIGHTS, OVIS_OUT_OF_MEMORY, ...).
  Engine(const WeightPlan& plan, const EngineOptions& options);
  // Weights already on `backend` (benchmarks, tests): `weights` holds canonical tensors that live on
  // that backend; every tensor `model` needs must be there with its shape (OVIS_BAD_WEIGHTS naming the
  // first one otherwise). options.backend is not used.
  Engine(std::unique_ptr<Backend> backend, std::unique_ptr<WeightStore> weights, const ModelConfig& model,
         const EngineOptions& options = EngineOptions{});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  std::string backend_name() const;
  // The configs; files and tensors are empty for an engine built from in-memory weights.
  const WeightPlan& plan() const;
  // The backend the engine runs on (benchmarks: sync, device memory figures).
  Backend& backend();
  // True while the text encoder's weights are on the backend (see EngineOptions::keep_text_encoder).
  bool text_encoder_resident() const;
  // The offload mode in effect ('auto' resolved; None when EngineOptions::offload was unset).
  OffloadMode offload() const;
  // Layer offload only: the look-ahead and peak of the streaming plan (null otherwise).
  const OffloadPlan* layer_plan() const;

  // ids, mask: host I32 [B, T] -> last hidden state, host F32 [B, T, H].
  Tensor encode_text(const Tensor& ids, const Tensor& mask, const CancelFlag* cancel = nullptr);
  // x [B, L, Cin], ctx [B, T, Ctx], t [B] (sigma in [0, 1]), img_ids [L, 3], txt_ids [T, 3]: host F32.
  // Returns the velocity, host F32 [B, L, Cout].
  Tensor dit_forward(const Tensor& x, const Tensor& ctx, const Tensor& t, const Tensor& img_ids, const Tensor& txt_ids,
                     const CancelFlag* cancel = nullptr);
  // z [B, Clat, h, w] raw latent (no scaling/shift) -> host F32 [B, Cout, 8h, 8w]. Tiled as `tiling` says.
  Tensor vae_decode(const Tensor& z, const CancelFlag* cancel = nullptr, const VaeTiling& tiling = {});
  // image [B, Cin, H, W] in [-1, 1] -> raw posterior mean and logvar [B, Clat, H/8, W/8].
  void vae_encode(const Tensor& image, Tensor* mean, Tensor* logvar, const CancelFlag* cancel = nullptr,
                  const VaeTiling& tiling = {});
  // Whole text-to-image run: encode both prompts, Euler flow-matching loop with CFG, VAE decode.
  GenerateResult generate(const GenerateRequest& request, const StepCallback& on_step,
                          const CancelFlag* cancel = nullptr);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Throws Error("ABORT_ERR", "aborted") when the flag is set.
void check_cancel(const CancelFlag* cancel);

}  // namespace ovis
