// A grow-only, 64-byte aligned float buffer: used thread_local, one per thread and purpose, so the hot
// loops never allocate.
#pragma once
#include <cstddef>
#include <cstdlib>

#include "core/error.h"

namespace ovis::cpu {

struct Scratch {
  float* p = nullptr;
  size_t cap = 0;
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { std::free(p); }
  float* get(size_t n) {
    if (n > cap) {
      std::free(p);
      const size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
      p = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (!p) {
        cap = 0;
        fail("OVIS_OUT_OF_MEMORY", "cpu: scratch allocation of " + std::to_string(bytes) + " bytes failed");
      }
      cap = n;
    }
    return p;
  }
};

}  // namespace ovis::cpu
