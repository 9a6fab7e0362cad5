// CudaBackend's layer-offload support: page-locked host copies, uploads on a second stream that start
// after the compute queued so far (the block they land in may just have been freed by that work), and
// one event per upload that the compute stream waits on before the weights are used.
#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "cuda_backend.h"
#include "cuda_check.h"

namespace ovis::cuda {

Tensor CudaBackend::do_download(const Tensor& t) {
  use_device();
  Tensor out = host_alloc(t.shape, t.dtype);
  if (t.nbytes() > 0) {
    CUDA_CHECK(cudaMemcpyAsync(out.data, t.data, t.nbytes(), cudaMemcpyDeviceToHost, stream_));
    CUDA_CHECK(cudaStreamSynchronize(stream_));
  }
  return out;
}

Tensor CudaBackend::do_pin_host(const Tensor& host) {
  use_device();
  void* mem = nullptr;
  CUDA_CHECK(cudaHostAlloc(&mem, std::max<size_t>(host.nbytes(), 1), cudaHostAllocDefault));
  for_each_host_piece(host, [&](const void* p, size_t bytes, size_t offset) {
    std::memcpy(static_cast<uint8_t*>(mem) + offset, p, bytes);
  });
  Tensor out = host;
  out.storage = std::shared_ptr<void>(mem, [](void* p) { cudaFreeHost(p); });
  out.data = mem;
  out.row_parts.reset();  // one piece now
  return out;
}

Tensor CudaBackend::do_upload_async(const Tensor& host) {
  use_device();
  if (!copy_stream_) CUDA_CHECK(cudaStreamCreateWithFlags(&copy_stream_, cudaStreamNonBlocking));
  Tensor out = alloc(host.shape, host.dtype);
  if (host.nbytes() == 0) return out;
  cudaEvent_t queued = nullptr, done = nullptr;
  CUDA_CHECK(cudaEventCreateWithFlags(&queued, cudaEventDisableTiming));
  try {
    CUDA_CHECK(cudaEventRecord(queued, stream_));
    CUDA_CHECK(cudaStreamWaitEvent(copy_stream_, queued, 0));
    CUDA_CHECK(cudaMemcpyAsync(out.data, host.data, host.nbytes(), cudaMemcpyHostToDevice, copy_stream_));
    CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventRecord(done, copy_stream_));
  } catch (...) {
    cudaEventDestroy(queued);
    if (done) cudaEventDestroy(done);
    throw;
  }
  cudaEventDestroy(queued);  // destruction is deferred by CUDA until the event completes
  auto it = upload_done_.find(out.data);
  if (it != upload_done_.end()) cudaEventDestroy(it->second);  // a block reused before being awaited
  upload_done_[out.data] = done;
  return out;
}

void CudaBackend::do_await_upload(const Tensor& t) {
  auto it = upload_done_.find(t.data);
  if (it == upload_done_.end()) return;
  use_device();
  cudaEvent_t done = it->second;
  upload_done_.erase(it);
  const cudaError_t err = cudaStreamWaitEvent(stream_, done, 0);
  cudaEventDestroy(done);
  CUDA_CHECK(err);
}

void CudaBackend::destroy_copy_stream() {
  for (auto& kv : upload_done_) cudaEventDestroy(kv.second);
  upload_done_.clear();
  if (copy_stream_) {
    cudaStreamSynchronize(copy_stream_);
    cudaStreamDestroy(copy_stream_);
    copy_stream_ = nullptr;
  }
}

}  // namespace ovis::cuda
