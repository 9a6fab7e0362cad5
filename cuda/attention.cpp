// attention on CUDA: the host-side choice between the flash kernel (attention_flash.cu) and the
// generic one (attention_generic.cu), with the path counted in the backend's PathStats.
#include "attention.h"

#include "core/error.h"
#include "launchers.h"

namespace ovis::cuda {

namespace {
constexpr int64_t kGenericMaxHeadDim = 512;

AttentionArgs shape_args(const Tensor& q, const Tensor& k, float scale, bool causal, const Tensor* mask) {
  AttentionArgs a;
  a.batch = q.shape[0];
  a.sq = q.shape[1];
  a.hq = q.shape[2];
  a.hd = q.shape[3];
  a.sk = k.shape[1];
  a.hkv = k.shape[2];
  a.scale = scale;
  a.causal = causal;
  a.key_mask = mask ? mask->ptr<float>() : nullptr;
  return a;
}

void set_io(AttentionArgs& a, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out) {
  a.q = q.data;
  a.k = k.data;
  a.v = v.data;
  a.t = q.dtype;
  a.out = out.data;
  a.tout = out.dtype;
}
}  // namespace

Tensor attention_forward(CudaBackend& be, const Tensor& q, const Tensor& k, const Tensor& v, float scale, bool causal,
                         const Tensor* key_mask) {
  if (q.shape[3] > kGenericMaxHeadDim)
    fail("OVIS_BAD_ARGUMENT", "attention: head_dim " + std::to_string(q.shape[3]) + " > 512 is not supported on CUDA");
  const Tensor mask = key_mask ? be.cast(*key_mask, DType::F32) : Tensor();
  AttentionArgs a = shape_args(q, k, scale, causal, key_mask ? &mask : nullptr);
  PathStats& stats = be.path_stats();
  // bf16 mode at head_dim 128 (every MMDiT and Qwen3 call) must take the flash kernel.
  const bool flash_expected = !be.fp32() && a.hd == 128;
  if (flash_expected) {
    const Tensor qb = be.cast(q, DType::BF16), kb = be.cast(k, DType::BF16), vb = be.cast(v, DType::BF16);
    Tensor out = be.alloc(q.shape, DType::BF16);
    set_io(a, qb, kb, vb, out);
    if (flash_attention_hd128_ok(a)) {
      ++stats.attn_flash;
      launch_flash_attention_hd128(a, be.stream());
      return out;
    }
    ++stats.attn_left_flash;
    log_slow_path_once("attention " + q.shape.str() + " left the flash path (unaligned or too many heads/batches)");
  }
  ++stats.attn_generic;
  // Generic path: one common input dtype (f32 when they differ).
  const DType t = (q.dtype == k.dtype && k.dtype == v.dtype) ? q.dtype : DType::F32;
  const Tensor qa = be.cast(q, t), ka = be.cast(k, t), va = be.cast(v, t);
  Tensor out = be.alloc(q.shape, be.act_dtype());
  set_io(a, qa, ka, va, out);
  launch_attention_generic(a, be.stream());
  return out;
}

}  // namespace ovis::cuda
