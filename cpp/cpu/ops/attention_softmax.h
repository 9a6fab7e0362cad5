// The parts of blockwise attention that do not depend on how the products are computed, shared by the f32
// (attention.cpp) and bf16 (attention_bf16.cpp) kernels: reading a head's row, masking a score row and
// folding it into the running ("online") softmax, and the final division by the running sum.
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace ovis::cpu {

// Row s of head h of t [B, S, H, hd] as f32 (any float dtype).
void load_head_row(const Tensor& t, int64_t b, int64_t s, int64_t h, float* dst);

// Which scores are hidden: keys with key_mask[b * Sk + key] == 0 (key_mask may be null), and with causal, keys
// after the query.
struct ScoreMask {
  const float* key_mask;
  int64_t Sk;
  bool causal;
};

// The running softmax of one query row: max and sum of exp(score - max) over the keys seen so far, and the
// unnormalised output row (width values).
struct SoftmaxRow {
  float& max;
  float& sum;
  float* out;
  int64_t width;
};

// Masks srow, the scores of query i (batch b) against keys [k0, k0 + kn), padded with hidden scores up to kpad,
// and folds it into row: srow becomes exp(score - new max) (all zero while nothing is visible), and the output
// so far is rescaled to the new max. A NaN score makes the row NaN.
void online_softmax_row(const ScoreMask& mask, int64_t b, int64_t i, int64_t k0, int64_t kn, int64_t kpad, float* srow,
                        const SoftmaxRow& row);

// dst[0, hd) = out / sum; zero when sum is zero (a query that saw no visible key).
void write_normalized_row(const float* out, float sum, int64_t hd, float* dst);

}  // namespace ovis::cpu
