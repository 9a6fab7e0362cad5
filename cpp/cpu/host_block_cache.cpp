// Host block cache (see host_block_cache.h): free blocks by exact size; the tensor's deleter hands its
// block back unless the cache is full.
#include "cpu/host_block_cache.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <string>

#include "core/error.h"

namespace ovis::cpu {

namespace {

struct BlockCache {
  std::mutex mu;
  std::multimap<size_t, void*> free_blocks;  // padded size -> block
  size_t bytes = 0;

  void* take(size_t size) {
    std::lock_guard<std::mutex> lk(mu);
    auto it = free_blocks.find(size);
    if (it == free_blocks.end()) return nullptr;
    void* p = it->second;
    free_blocks.erase(it);
    bytes -= size;
    return p;
  }
  void give(void* p, size_t size) {
    {
      std::lock_guard<std::mutex> lk(mu);
      if (bytes + size <= host_block_cache_capacity()) {
        free_blocks.emplace(size, p);
        bytes += size;
        return;
      }
    }
    std::free(p);
  }
  void trim() {
    std::multimap<size_t, void*> gone;
    {
      std::lock_guard<std::mutex> lk(mu);
      gone.swap(free_blocks);
      bytes = 0;
    }
    for (auto& kv : gone) std::free(kv.second);
  }
};

// Never destroyed: tensors may be freed during static destruction.
BlockCache& cache() {
  static BlockCache* c = new BlockCache();
  return *c;
}

}  // namespace

namespace {
// The memory this process may use: the machine's, or its cgroup's limit (a container) when lower; 0 if unknown.
size_t usable_memory() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  size_t ram = pages > 0 && page > 0 ? size_t(pages) * size_t(page) : 0;
  for (const char* path : {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    std::ifstream f(path);
    unsigned long long limit = 0;
    if (f >> limit && limit > 0 && (ram == 0 || limit < ram)) ram = size_t(limit);  // "max" reads as no number
  }
  return ram;
}
}  // namespace

size_t host_block_cache_capacity() {
  static const size_t capacity = std::clamp(usable_memory() / 8, kCachedBytesFloor, kCachedBytesCeiling);
  return capacity;
}

Tensor cached_host_alloc(const Shape& s, DType t) {
  const size_t bytes = dtype_bytes(t, s.numel());
  if (bytes < kCachedBlockMin) return host_alloc(s, t);
  const size_t padded = ((bytes + 4095) / 4096) * 4096;
  void* p = cache().take(padded);
  if (!p) p = std::aligned_alloc(64, padded);
  if (!p) {
    trim_host_block_cache();  // cached blocks of other sizes may be what is missing
    p = std::aligned_alloc(64, padded);
  }
  if (!p) fail("OVIS_OUT_OF_MEMORY", "host allocation of " + std::to_string(bytes) + " bytes failed for " + s.str());
  Tensor r;
  r.storage = std::shared_ptr<void>(p, [padded](void* q) { cache().give(q, padded); });
  r.data = p;
  r.dtype = t;
  r.device = DeviceKind::Host;
  r.shape = s;
  return r;
}

void trim_host_block_cache() { cache().trim(); }

size_t host_block_cache_bytes() {
  std::lock_guard<std::mutex> lk(cache().mu);
  return cache().bytes;
}

}  // namespace ovis::cpu
