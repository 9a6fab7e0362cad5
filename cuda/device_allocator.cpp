// Caching device allocator (see device_allocator.h).
#include "device_allocator.h"

#include <cuda_runtime.h>

#include <string>

#include "core/error.h"
#include "cuda_check.h"

namespace ovis::cuda {

DeviceAllocator::~DeviceAllocator() {
  // Errors are ignored here: at process exit the CUDA runtime may already be gone.
  for (auto& kv : free_) cudaFree(kv.second);
  free_.clear();
}

size_t DeviceAllocator::round_size(size_t bytes) {
  constexpr size_t kSmall = 512, kLarge = size_t(2) << 20;
  if (bytes == 0) return kSmall;
  if (bytes <= (size_t(1) << 20)) return (bytes + kSmall - 1) / kSmall * kSmall;
  return (bytes + kLarge - 1) / kLarge * kLarge;
}

std::shared_ptr<void> DeviceAllocator::allocate(size_t bytes) {
  const size_t size = round_size(bytes);
  void* p = nullptr;
  size_t got = size;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Best fit among cached blocks, accepting at most 25% waste.
    auto it = free_.lower_bound(size);
    if (it != free_.end() && it->first <= size + size / 4) {
      got = it->first;
      p = it->second;
      free_.erase(it);
    } else {
      CUDA_CHECK(cudaSetDevice(device_));
      cudaError_t err = cudaMalloc(&p, size);
      if (err == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError();
        // Queued kernels may still use cached blocks (they were freed on the host, not on the stream):
        // finish them before cudaFree returns their memory.
        (void)cudaDeviceSynchronize();
        release_cached_locked(nullptr);  // errors surface through the retried cudaMalloc
        err = cudaMalloc(&p, size);
      }
      if (err == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError();
        throw Error("OVIS_OUT_OF_MEMORY", "CUDA device out of memory allocating " + std::to_string(bytes) + " bytes (" +
                                              std::to_string(in_use_ >> 20) + " MiB in use by ovis)");
      }
      if (err != cudaSuccess) throw_cuda_error(err, "cudaMalloc", __FILE__, __LINE__);
      reserved_ += size;
      ++malloc_calls_;
    }
    in_use_ += got;
    if (in_use_ > peak_) peak_ = in_use_;
  }
  auto self = shared_from_this();
  return std::shared_ptr<void>(p, [self, got](void* q) { self->give_back(q, got); });
}

void DeviceAllocator::give_back(void* p, size_t size) {
  std::lock_guard<std::mutex> lock(mu_);
  in_use_ -= size;
  free_.emplace(size, p);
}

size_t DeviceAllocator::release_cached_locked(cudaError_t* first_error) {
  // cudaFree synchronises the device, so queued work that still uses a freed block has finished.
  // A block whose cudaFree fails is dropped all the same: the error is sticky, the context unusable.
  size_t freed = 0;
  for (auto& kv : free_) {
    const cudaError_t err = cudaFree(kv.second);
    if (err != cudaSuccess && first_error && *first_error == cudaSuccess) *first_error = err;
    reserved_ -= kv.first;
    freed += kv.first;
  }
  free_.clear();
  return freed;
}

size_t DeviceAllocator::release_cached() {
  std::lock_guard<std::mutex> lock(mu_);
  // The calling thread may have another current device (the addon's worker thread, for instance).
  CUDA_CHECK(cudaSetDevice(device_));
  cudaError_t err = cudaSuccess;
  const size_t freed = release_cached_locked(&err);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    throw_cuda_error(err, "cudaFree", __FILE__, __LINE__);
  }
  return freed;
}

size_t DeviceAllocator::in_use() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_use_;
}
size_t DeviceAllocator::peak() const {
  std::lock_guard<std::mutex> lock(mu_);
  return peak_;
}
size_t DeviceAllocator::reserved() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reserved_;
}
size_t DeviceAllocator::malloc_calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return malloc_calls_;
}
void DeviceAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mu_);
  peak_ = in_use_;
}

}  // namespace ovis::cuda
