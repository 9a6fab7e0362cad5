// attention on CUDA: the host-side choice between the flash kernel (attention_flash.cu) and the
// generic one (attention_generic.cu), with the path counted in the backend's PathStats. The tensor-core
// kernel is the WMMA one (attention_flash.cu) unless OVIS_ATTENTION=mma picks attention_mma.cu; WMMA
// stays the default until a GPU run has checked the mma kernel against the CPU.
#include "attention.h"

#include <cstdlib>
#include <cstring>

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

// Read per call (a getenv is nothing beside a kernel launch) so a test or bench can compare both kernels.
bool mma_selected() {
  const char* v = std::getenv("OVIS_ATTENTION");
  if (!v || !*v || std::strcmp(v, "wmma") == 0) return false;
  if (std::strcmp(v, "mma") == 0) return true;
  fail("OVIS_BAD_ARGUMENT", std::string("OVIS_ATTENTION must be 'wmma' (default) or 'mma', got '") + v + "'");
}

bool tensor_core_ok(const AttentionArgs& a, bool mma) {
  return mma ? attention_mma_ok(a) : flash_attention_hd128_ok(a);
}

void launch_tensor_core(const AttentionArgs& a, bool mma, cudaStream_t s) {
  if (mma)
    launch_attention_mma(a, s);
  else
    launch_flash_attention_hd128(a, s);
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
  const bool mma = mma_selected();
  // bf16 mode at head_dim 128 (every MMDiT and Qwen3 call) must take a tensor-core kernel; the mma one
  // also takes the small head dims of the tests.
  const bool flash_expected = !be.fp32() && a.hd == 128;
  const bool mma_dim = a.hd == 32 || a.hd == 64 || a.hd == 80;
  if (flash_expected || (mma && !be.fp32() && mma_dim)) {
    const Tensor qb = be.cast(q, DType::BF16), kb = be.cast(k, DType::BF16), vb = be.cast(v, DType::BF16);
    Tensor out = be.alloc(q.shape, DType::BF16);
    set_io(a, qb, kb, vb, out);
    if (tensor_core_ok(a, mma)) {
      ++stats.attn_flash;
      launch_tensor_core(a, mma, be.stream());
      return out;
    }
    if (flash_expected) {
      ++stats.attn_left_flash;
      log_slow_path_once("attention " + q.shape.str() + " left the flash path (unaligned or too many heads/batches)");
    }
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
