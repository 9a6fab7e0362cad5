// Caching device allocator: freed blocks go to size-keyed free lists and are reused, so the
// denoising loop (same shapes every step) stops calling cudaMalloc after its first step.
// All work runs on one stream, so a block freed on the host can be reused by later work at once.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>

namespace ovis::cuda {

class DeviceAllocator : public std::enable_shared_from_this<DeviceAllocator> {
 public:
  explicit DeviceAllocator(int device) : device_(device) {}
  ~DeviceAllocator();
  DeviceAllocator(const DeviceAllocator&) = delete;
  DeviceAllocator& operator=(const DeviceAllocator&) = delete;

  // A block of at least `bytes` (256-byte aligned). The returned pointer's deleter gives the block
  // back to the cache; it keeps this allocator alive. Throws OVIS_OUT_OF_MEMORY after emptying the
  // cache and retrying once.
  std::shared_ptr<void> allocate(size_t bytes);
  // cudaFree every cached (unused) block, so the driver (and other processes) can use the memory;
  // returns the bytes freed. The caller makes sure no queued work still uses a cached block.
  // Throws on a CUDA error (the cache is emptied and the counters stay right either way).
  size_t release_cached();

  size_t in_use() const;    // bytes handed out now
  size_t peak() const;      // high-water mark of in_use since creation / reset_peak
  size_t reserved() const;  // bytes held from CUDA (in use + cached)
  size_t malloc_calls() const;
  void reset_peak();

 private:
  static size_t round_size(size_t bytes);
  void give_back(void* p, size_t size);
  // Returns the bytes freed and the first cudaFree error (cudaSuccess when none).
  size_t release_cached_locked(cudaError_t* first_error);

  int device_;
  mutable std::mutex mu_;
  std::multimap<size_t, void*> free_;
  size_t in_use_ = 0, peak_ = 0, reserved_ = 0, malloc_calls_ = 0;
};

}  // namespace ovis::cuda
