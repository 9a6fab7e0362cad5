// Rotary-embedding angle tables, computed on the host as F32 [S, hd/2] cos/sin pairs.
#pragma once
#include <vector>

#include "core/backend.h"

namespace ovis {

struct RopeTables {
  Tensor cos, sin;  // on the backend, F32 [S, hd/2]
};

// MMDiT form: ids host F32 [S, n_axes]; axis a owns axes_dims[a] head dims (axes_dims[a]/2 pairs) and
// pair i of that axis rotates by ids[s, a] / theta^(2i / axes_dims[a]). Computed in double, as the
// reference does on the CPU.
RopeTables rope_axes_tables(Backend& be, const Tensor& ids, const std::vector<int>& axes_dims, float theta);

// Qwen3 form: positions 0..S-1, pair i rotates by pos * inv_freq_i, inv_freq_i = theta^(-2i / head_dim)
// rounded to bf16 (as the reference's bf16-loaded model holds it), angles rounded to float32 like
// transformers computes them (positions up to a few hundred make both visible).
RopeTables rope_half_tables(Backend& be, int64_t S, int head_dim, float theta);

}  // namespace ovis
