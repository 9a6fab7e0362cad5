#include "model/sampler.h"

#include <algorithm>
#include <map>

#include "core/error.h"

namespace ovis {

Tensor pack_latents(const Tensor& x) {
  OVIS_CHECK_ARG(x.shape.rank == 4 && x.dtype == DType::F32 && x.shape[2] % 2 == 0 && x.shape[3] % 2 == 0,
                 "latents to pack must be F32 [B, C, H, W] with even H and W, got " + x.shape.str());
  const int64_t B = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  const int64_t rows = H / 2, cols = W / 2;
  Tensor out = host_f32({B, rows * cols, 4 * C});
  const float* src = x.ptr<float>();
  float* dst = out.ptr<float>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        for (int64_t ch = 0; ch < C; ++ch)
          for (int64_t dy = 0; dy < 2; ++dy)
            for (int64_t dx = 0; dx < 2; ++dx)
              dst[((b * rows + r) * cols + c) * 4 * C + ch * 4 + dy * 2 + dx] =
                  src[((b * C + ch) * H + 2 * r + dy) * W + 2 * c + dx];
  return out;
}

Tensor unpack_latents(const Tensor& p, int64_t C, int64_t H, int64_t W) {
  OVIS_CHECK_ARG(H % 2 == 0 && W % 2 == 0 && p.dtype == DType::F32 && p.shape.rank == 3 &&
                     p.shape[1] == (H / 2) * (W / 2) && p.shape[2] == 4 * C,
                 "packed latents must be F32 [B, " + std::to_string((H / 2) * (W / 2)) + ", " + std::to_string(4 * C) +
                     "], got " + p.shape.str());
  const int64_t B = p.shape[0], rows = H / 2, cols = W / 2;
  Tensor out = host_f32({B, C, H, W});
  const float* src = p.ptr<float>();
  float* dst = out.ptr<float>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        for (int64_t ch = 0; ch < C; ++ch)
          for (int64_t dy = 0; dy < 2; ++dy)
            for (int64_t dx = 0; dx < 2; ++dx)
              dst[((b * C + ch) * H + 2 * r + dy) * W + 2 * c + dx] =
                  src[((b * rows + r) * cols + c) * 4 * C + ch * 4 + dy * 2 + dx];
  return out;
}

namespace {

Tensor position_ids(int64_t n, int n_axes, int64_t cols, bool text) {
  Tensor ids = host_f32({n, n_axes});
  float* d = ids.ptr<float>();
  for (int64_t i = 0; i < n; ++i)
    for (int a = 0; a < n_axes; ++a) {
      float v = 0.0f;
      if (a == 1) v = float(text ? i : i / cols);
      if (a == 2) v = float(text ? i : i % cols);
      d[i * n_axes + a] = v;
    }
  return ids;
}

}  // namespace

Tensor text_position_ids(int64_t tokens, int n_axes) { return position_ids(tokens, n_axes, 1, true); }

Tensor image_position_ids(int64_t rows, int64_t cols, int n_axes) {
  return position_ids(rows * cols, n_axes, cols, false);
}

namespace {

// ctx [1, T, D] repeated n times along the batch: [n, T, D].
Tensor repeat_batch(Backend& be, const Tensor& ctx, int64_t n) {
  Tensor out = ctx;
  for (int64_t have = 1; have < n;) {
    const int64_t add = std::min(have, n - have);
    out = be.concat(out, add == have ? out : be.slice(out, 0, 0, add), 0);
    have += add;
  }
  return out;
}

// The conditioning of one MMDiT call over n images: [ctx × n] or, with CFG, [ctx × n; ctx_neg × n].
class BatchContext {
 public:
  BatchContext(Backend& be, const SamplerInputs& in, bool cfg) : be_(be), in_(in), cfg_(cfg) {}
  const Tensor& get(int64_t n) {
    auto it = cache_.find(n);
    if (it != cache_.end()) return it->second;
    Tensor c = repeat_batch(be_, in_.ctx, n);
    if (cfg_) c = be_.concat(c, repeat_batch(be_, in_.ctx_neg, n), 0);
    return cache_.emplace(n, c).first->second;
  }

 private:
  Backend& be_;
  const SamplerInputs& in_;
  bool cfg_;
  std::map<int64_t, Tensor> cache_;
};

// The guided velocity of images [start, start + n) of x at sigma.
Tensor velocity(Backend& be, const MMDiT& dit, const Tensor& x, int64_t start, int64_t n, BatchContext& ctx,
                float sigma, float guidance, bool cfg, const RopeTables& rope, const CancelFlag* cancel) {
  Tensor xc = (start == 0 && n == x.shape[0]) ? x : be.slice(x, 0, start, n);
  if (!cfg)
    return be.cast(dit.forward(be, xc, ctx.get(n), std::vector<float>(size_t(n), sigma), rope, cancel), DType::F32);
  Tensor v2 =
      be.cast(dit.forward(be, be.concat(xc, xc, 0), ctx.get(n), std::vector<float>(size_t(2 * n), sigma), rope, cancel),
              DType::F32);
  Tensor v = be.slice(v2, 0, 0, n);
  Tensor v_neg = be.slice(v2, 0, n, n);
  be.axpby_(v, 1.0f, v_neg, -1.0f);     // v - v_neg
  be.axpby_(v, guidance, v_neg, 1.0f);  // v_neg + g (v - v_neg)
  return v;
}

}  // namespace

Tensor euler_sample(Backend& be, const MMDiT& dit, const SamplerInputs& in, const RopeTables& rope,
                    const SamplerHook& on_step, const CancelFlag* cancel) {
  const int steps = int(in.sigmas.size()) - 1;
  OVIS_CHECK_ARG(steps >= 1, "sigmas must hold steps + 1 values (at least 2)");
  const bool cfg = in.guidance > 1.0f;
  const int64_t B = in.x.shape[0];
  const int64_t per_call = in.max_batch > 0 ? std::min<int64_t>(in.max_batch, B) : B;
  // Work on a private copy so a cancelled run leaves the caller's tensors untouched.
  Tensor x = be.cast(be.slice(in.x, 0, 0, B), DType::F32);
  BatchContext ctx(be, in, cfg);
  for (int k = 0; k < steps; ++k) {
    check_cancel(cancel);
    const float sigma = in.sigmas[size_t(k)];
    Tensor v;
    for (int64_t start = 0; start < B; start += per_call) {
      const int64_t n = std::min(per_call, B - start);
      Tensor vc = velocity(be, dit, x, start, n, ctx, sigma, in.guidance, cfg, rope, cancel);
      v = start == 0 ? vc : be.concat(v, vc, 0);
    }
    Tensor x0;
    const bool want_x0 = in.x0_every > 0 && (k + 1) % in.x0_every == 0;
    if (want_x0) {
      x0 = be.slice(x, 0, 0, B);
      be.axpby_(x0, 1.0f, v, -sigma);  // the same op as the last Euler step (to sigma 0), so equal to it there
    }
    be.axpby_(x, 1.0f, v, in.sigmas[size_t(k) + 1] - sigma);
    if (on_step) {
      SamplerStep info;
      info.step = k + 1;
      info.steps = steps;
      info.sigma = sigma;
      info.x = &x;
      info.x0 = want_x0 ? &x0 : nullptr;
      on_step(info);
    }
  }
  return x;
}

int max_batch_for(const DitConfig& c, int64_t tokens, bool cfg) {
  // The widest activations of a single block per token (fused q,k,v,up,gate, attention and MLP outputs,
  // the residual), in f32, twice for temporaries alive at once.
  const double per_token = double(5 * c.dim() + 2 * c.mlp_hidden) * 4.0 * 2.0;
  const double per_image = per_token * double(tokens) * (cfg ? 2.0 : 1.0);
  return std::max(1, int(kBatchActivationBudget / per_image));
}

}  // namespace ovis
