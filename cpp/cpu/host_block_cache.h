// A small cache of large freed host blocks for op outputs. Fresh large allocations come from mmap and
// every page faults (and is zeroed by the kernel) on first write, which costs as much as a memory-bound
// op itself (GroupNorm, upsample, add); the VAE frees and re-allocates the same few sizes over and
// over, so reusing blocks removes almost all of it. Process-wide, thread-safe, bounded.
#pragma once
#include <cstddef>

#include "core/tensor.h"

namespace ovis::cpu {

// Blocks this large and up are cached; smaller ones use host_alloc (malloc reuses them well).
constexpr size_t kCachedBlockMin = size_t(1) << 20;
// Free blocks are kept up to host_block_cache_capacity() bytes: an eighth of the machine's memory (or of its
// cgroup's limit when lower), between
// these bounds. A freed block that does not fit is returned. The bound must hold a forward's working set: at
// D=3072 and 1280 tokens one single block alone allocates ~0.5 GB of outputs, and each block that misses the
// cache faults in every page again (-15% of an MMDiT forward measured on a 2-core Zen 5).
constexpr size_t kCachedBytesFloor = size_t(512) << 20;
constexpr size_t kCachedBytesCeiling = size_t(4096) << 20;
size_t host_block_cache_capacity();

// Like host_alloc (uninitialised, 64-byte aligned) but may reuse a cached block of the same size.
Tensor cached_host_alloc(const Shape& s, DType t);
// Frees every cached block (Backend::trim on the CPU).
void trim_host_block_cache();
// Bytes of free blocks held now (tests).
size_t host_block_cache_bytes();

}  // namespace ovis::cpu
