// The Backend fronts check every op's arguments once for all backends: a backend that only computes
// (here one that counts its do_* calls and computes nothing) still refuses bad arguments, and the CPU
// backend accepts every float activation dtype the CUDA backend accepts.
#include <memory>

#include "core/backend.h"
#include "tests/testing.h"

using namespace ovis;

namespace {

// Computes nothing: each do_* counts the call and returns an empty tensor.
class NullBackend final : public Backend {
 public:
  int calls = 0;
  std::string name() const override { return "null"; }
  DeviceKind device() const override { return DeviceKind::Host; }
  Tensor alloc(const Shape& s, DType t) override { return host_alloc(s, t); }
  Tensor upload(const Tensor& host) override { return host; }
  Tensor to_host_f32(const Tensor& t) override { return t; }

 protected:
  Tensor none() { return ++calls, Tensor(); }
  Tensor do_cast(const Tensor&, DType) override { return none(); }
  Tensor do_linear(const Tensor&, const Tensor&, const Tensor*) override { return none(); }
  Tensor do_embedding(const Tensor&, const Tensor&) override { return none(); }
  Tensor do_silu(const Tensor&) override { return none(); }
  Tensor do_swiglu(const Tensor&) override { return none(); }
  void do_add_(Tensor&, const Tensor&) override { none(); }
  void do_gated_add_(Tensor&, const Tensor&, const Tensor&) override { none(); }
  void do_axpby_(Tensor&, float, const Tensor&, float) override { none(); }
  Tensor do_layer_norm_mod(const Tensor&, const Tensor*, const Tensor*, float) override { return none(); }
  Tensor do_rms_norm(const Tensor&, const Tensor&, float) override { return none(); }
  Tensor do_group_norm(const Tensor&, const Tensor&, const Tensor&, int, float, bool) override { return none(); }
  void do_rope_(Tensor&, const Tensor&, const Tensor&, bool) override { none(); }
  Tensor do_attention(const Tensor&, const Tensor&, const Tensor&, float, bool, const Tensor*) override {
    return none();
  }
  Tensor do_conv2d(const Tensor&, const Tensor&, const Tensor*, int, int, int, int, int) override { return none(); }
  Tensor do_upsample_nearest2x(const Tensor&) override { return none(); }
  Tensor do_concat(const Tensor&, const Tensor&, int) override { return none(); }
  Tensor do_slice(const Tensor&, int, int64_t, int64_t) override { return none(); }
  Tensor do_transpose_last2(const Tensor&) override { return none(); }
  Tensor do_download(const Tensor&) override { return none(); }
};

Tensor t(std::initializer_list<int64_t> dims, DType dt = DType::F32) { return host_alloc(Shape(dims), dt); }

}  // namespace

TEST(front_checks_every_backend) {
  NullBackend be;
  Tensor x = t({2, 3, 8}), w = t({4, 8}, DType::BF16);
  Tensor bias2d = t({1, 4});  // the old CUDA check (size only) let this through
  CHECK_THROWS_CODE(be.linear(x, w, &bias2d), "OVIS_BAD_ARGUMENT");
  CHECK_THROWS_CODE(be.linear(x, t({4, 7}), nullptr), "OVIS_BAD_ARGUMENT");
  Tensor gate_flat = t({2 * 8});  // a gate must be [B, D], not any tensor of B*D elements
  CHECK_THROWS_CODE(be.gated_add_(x, gate_flat, x), "OVIS_BAD_ARGUMENT");
  CHECK_THROWS_CODE(be.rms_norm(x, t({1, 8}), 1e-6f), "OVIS_BAD_ARGUMENT");
  CHECK_THROWS_CODE(be.group_norm(t({1, 6, 2, 2}), t({6}), t({6}), 4, 1e-6f, false), "OVIS_BAD_ARGUMENT");
  Tensor q = t({1, 5, 4, 16}), kv = t({1, 5, 3, 16});
  CHECK_THROWS_CODE(be.attention(q, kv, kv, 1.f, false, nullptr), "OVIS_BAD_ARGUMENT");  // 4 % 3 != 0
  Tensor mask_f16 = t({1, 7}, DType::F16);
  CHECK_THROWS_CODE(be.attention(q, q, q, 1.f, false, &mask_f16), "OVIS_BAD_ARGUMENT");
  Tensor cos16 = t({5, 8}, DType::BF16);
  CHECK_THROWS_CODE(be.rope_half_(q, cos16, cos16), "OVIS_BAD_ARGUMENT");
  CHECK_THROWS_CODE(be.concat(x, t({2, 3, 8}, DType::BF16), 0), "OVIS_BAD_ARGUMENT");
  CHECK_THROWS_CODE(be.slice(x, 3, 0, 1), "OVIS_BAD_ARGUMENT");
  CHECK_THROWS_CODE(be.transpose_last2(t({3, 3}, DType::I32)), "OVIS_BAD_ARGUMENT");
  CHECK_THROWS_CODE(be.conv2d(t({1, 3, 2, 2}), t({4, 3, 3, 3}), nullptr, 1, 0, 0, 0, 0), "OVIS_BAD_ARGUMENT");
  CHECK_THROWS_CODE(be.embedding(w, t({3})), "OVIS_BAD_ARGUMENT");  // f32 ids
  CHECK_THROWS_CODE(be.cast(t({3}, DType::I32), DType::F32), "OVIS_BAD_ARGUMENT");
  Tensor undefined;
  CHECK_THROWS_CODE(be.silu(undefined), "OVIS_BAD_ARGUMENT");
  CHECK_MSG(be.calls == 0, "a do_* ran with bad arguments (" << be.calls << " calls)");
  Tensor bias = t({4});
  be.linear(x, w, &bias);
  be.slice(x, -1, 2, 3);
  CHECK(be.calls == 2);
}

TEST(front_rejects_tensors_of_another_device) {
  auto cpu = create_cpu_backend(1);
  Tensor x = t({2, 4});
  x.device = DeviceKind::Cuda;  // as a CUDA tensor would say
  try {
    cpu->silu(x);
    CHECK_MSG(false, "silu accepted a device tensor");
  } catch (const Error& e) {
    CHECK(e.code() == "OVIS_BAD_ARGUMENT");
    CHECK_MSG(std::string(e.what()).find("silu: x") == 0, e.what());
  }
}

TEST(streaming_fronts_check_where_tensors_live) {
  NullBackend be;
  Tensor undefined, on_device = t({2, 4});
  on_device.device = DeviceKind::Cuda;  // not this (host) backend's
  CHECK_THROWS_CODE(be.download(undefined), "OVIS_BAD_ARGUMENT");
  CHECK_THROWS_CODE(be.download(on_device), "OVIS_BAD_ARGUMENT");
  CHECK_THROWS_CODE(be.pin_host(on_device), "OVIS_BAD_ARGUMENT");
  CHECK_THROWS_CODE(be.upload_async(on_device), "OVIS_BAD_ARGUMENT");
  CHECK_THROWS_CODE(be.await_upload(undefined), "OVIS_BAD_ARGUMENT");
  CHECK_MSG(be.calls == 0, "a do_* ran with bad arguments (" << be.calls << " calls)");
  Tensor host = t({2, 4});
  CHECK(be.pin_host(host).data == host.data);  // no copy stream: the host tensor as is
  be.await_upload(be.upload_async(host));
}

TEST(cpu_accepts_bf16_and_f16_activations) {
  auto cpu = create_cpu_backend(1);
  Tensor x = ovis_test::random_tensor(Shape{2, 3, 8}, DType::F32, 11);
  Tensor y = ovis_test::random_tensor(Shape{2, 3, 8}, DType::F32, 12);
  for (DType dt : {DType::BF16, DType::F16}) {
    Tensor xl = cpu->cast(x, dt);
    Tensor ref = cpu->silu(cpu->cast(xl, DType::F32));
    CHECK_REL(cpu->silu(xl), ovis_test::to_f64(ref), 0.0, "silu " << dtype_name(dt));
    Tensor acc = cpu->cast(x, dt);
    cpu->add_(acc, y);  // in place on a 16-bit tensor: computed in f32, stored back in its dtype
    CHECK(acc.dtype == dt);
    Tensor want = cpu->cast(x, DType::F32);
    cpu->add_(want, y);
    CHECK_REL(cpu->to_host_f32(acc), ovis_test::to_f64(want), 1e-2, "add_ " << dtype_name(dt));
  }
}
