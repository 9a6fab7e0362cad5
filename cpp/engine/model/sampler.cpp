#include "model/sampler.h"

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
                 "packed latents must be F32 [B, " + std::to_string((H / 2) * (W / 2)) + ", " +
                     std::to_string(4 * C) + "], got " + p.shape.str());
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

Tensor euler_sample(Backend& be, const MMDiT& dit, const SamplerInputs& in, const RopeTables& rope,
                    const StepCallback& on_step, const CancelFlag* cancel) {
  const int steps = int(in.sigmas.size()) - 1;
  OVIS_CHECK_ARG(steps >= 1, "sigmas must hold steps + 1 values (at least 2)");
  const bool cfg = in.guidance > 1.0f;
  // Work on a private copy so a cancelled run leaves the caller's tensors untouched.
  Tensor x = be.cast(be.slice(in.x, 0, 0, in.x.shape[0]), DType::F32);
  // With guidance, cond and uncond run as one batch of 2: [x; x] with [ctx; ctx_neg].
  Tensor ctx = cfg ? be.concat(in.ctx, in.ctx_neg, 0) : in.ctx;
  for (int k = 0; k < steps; ++k) {
    check_cancel(cancel);
    const float sigma = in.sigmas[size_t(k)];
    Tensor v;
    if (cfg) {
      Tensor v2 = be.cast(dit.forward(be, be.concat(x, x, 0), ctx, {sigma, sigma}, rope, cancel), DType::F32);
      v = be.slice(v2, 0, 0, 1);
      Tensor v_neg = be.slice(v2, 0, 1, 1);
      be.axpby_(v, 1.0f, v_neg, -1.0f);          // v - v_neg
      be.axpby_(v, in.guidance, v_neg, 1.0f);    // v_neg + g (v - v_neg)
    } else {
      v = be.cast(dit.forward(be, x, ctx, {sigma}, rope, cancel), DType::F32);
    }
    be.axpby_(x, 1.0f, v, in.sigmas[size_t(k) + 1] - sigma);
    if (on_step) {
      StepInfo info;
      info.step = k + 1;
      info.steps = steps;
      info.sigma = sigma;
      Tensor host;
      if (in.report_latents) {
        host = be.to_host_f32(x);
        info.latents = &host;
      }
      on_step(info);
    }
  }
  return x;
}

}  // namespace ovis
