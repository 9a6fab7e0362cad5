// Test-only: a Backend that forwards every op to another one and counts the memory-management calls
// (trim, sync) and can report a chosen free memory, so tests can see when the engine asks for cached device memory to
// be returned.
#pragma once
#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "core/backend.h"

namespace ovis::test {

class CountingBackend final : public Backend {
 public:
  explicit CountingBackend(std::unique_ptr<Backend> inner) : inner_(std::move(inner)) {}

  int trims = 0, syncs = 0;
  // upload_async: device memory is simulated by owned copies whose live bytes are tracked.
  int async_uploads = 0, awaits = 0;
  std::shared_ptr<size_t> live_bytes = std::make_shared<size_t>(0);
  size_t peak_live_bytes = 0;
  // When set, free_memory() reports this instead of the inner backend's figure (memory budgets).
  std::optional<size_t> free_bytes;

  std::string name() const override { return inner_->name(); }
  DeviceKind device() const override { return inner_->device(); }
  Tensor alloc(const Shape& s, DType t) override { return inner_->alloc(s, t); }
  Tensor upload(const Tensor& host) override { return inner_->upload(host); }
  Tensor to_host_f32(const Tensor& t) override { return inner_->to_host_f32(t); }
  Tensor upload_weight(const Tensor& host) override { return inner_->upload_weight(host); }
  void sync() override {
    ++syncs;
    inner_->sync();
  }
  void trim() override {
    ++trims;
    inner_->trim();
  }
  size_t free_memory() override { return free_bytes ? *free_bytes : inner_->free_memory(); }

 protected:
  Tensor do_download(const Tensor& t) override { return inner_->download(t); }
  Tensor do_upload_async(const Tensor& host) override {
    ++async_uploads;
    const size_t n = host.nbytes();
    std::shared_ptr<size_t> live = live_bytes;
    char* mem = new char[n];
    for_each_host_piece(host,
                        [&](const void* src, size_t bytes, size_t offset) { std::memcpy(mem + offset, src, bytes); });
    Tensor t = host;
    t.row_parts.reset();  // one piece now
    t.storage = std::shared_ptr<void>(mem, [live, n](void* p) {
      *live -= n;
      delete[] static_cast<char*>(p);
    });
    t.data = mem;
    *live += n;
    peak_live_bytes = std::max(peak_live_bytes, *live);
    return t;
  }
  void do_await_upload(const Tensor& t) override {
    ++awaits;
    inner_->await_upload(t);
  }
  Tensor do_cast(const Tensor& t, DType to) override { return inner_->cast(t, to); }
  Tensor do_linear(const Tensor& x, const Tensor& w, const Tensor* bias) override { return inner_->linear(x, w, bias); }
  Tensor do_embedding(const Tensor& table, const Tensor& ids) override { return inner_->embedding(table, ids); }
  Tensor do_silu(const Tensor& x) override { return inner_->silu(x); }
  Tensor do_swiglu(const Tensor& x) override { return inner_->swiglu(x); }
  void do_add_(Tensor& x, const Tensor& y) override { inner_->add_(x, y); }
  void do_gated_add_(Tensor& x, const Tensor& gate, const Tensor& y) override { inner_->gated_add_(x, gate, y); }
  void do_axpby_(Tensor& x, float alpha, const Tensor& y, float beta) override { inner_->axpby_(x, alpha, y, beta); }
  Tensor do_layer_norm_mod(const Tensor& x, const Tensor* shift, const Tensor* scale, float eps) override {
    return inner_->layer_norm_mod(x, shift, scale, eps);
  }
  Tensor do_rms_norm(const Tensor& x, const Tensor& w, float eps) override { return inner_->rms_norm(x, w, eps); }
  Tensor do_group_norm(const Tensor& x, const Tensor& w, const Tensor& b, int groups, float eps, bool silu) override {
    return inner_->group_norm(x, w, b, groups, eps, silu);
  }
  void do_rope_(Tensor& x, const Tensor& cos, const Tensor& sin, bool interleaved) override {
    if (interleaved)
      inner_->rope_interleaved_(x, cos, sin);
    else
      inner_->rope_half_(x, cos, sin);
  }
  Tensor do_attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale, bool causal,
                      const Tensor* key_mask) override {
    return inner_->attention(q, k, v, scale, causal, key_mask);
  }
  Tensor do_conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, int stride, int pad_top, int pad_left,
                   int pad_bottom, int pad_right) override {
    return inner_->conv2d(x, w, bias, stride, pad_top, pad_left, pad_bottom, pad_right);
  }
  Tensor do_upsample_nearest2x(const Tensor& x) override { return inner_->upsample_nearest2x(x); }
  Tensor do_concat(const Tensor& a, const Tensor& b, int axis) override { return inner_->concat(a, b, axis); }
  Tensor do_slice(const Tensor& x, int axis, int64_t start, int64_t len) override {
    return inner_->slice(x, axis, start, len);
  }
  Tensor do_transpose_last2(const Tensor& x) override { return inner_->transpose_last2(x); }

 private:
  std::unique_ptr<Backend> inner_;
};

}  // namespace ovis::test
