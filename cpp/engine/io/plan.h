// WeightPlan: the canonical tensors of a model and where their bytes are (docs/WEIGHTS.md).
// Produced by lib/model (TypeScript) as plan text; parsed here; no checkpoint key names in C++.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/mapped_file.h"

namespace ovis {

struct PlanPiece {
  int file = 0;         // index into WeightPlan::files
  uint64_t offset = 0;  // absolute byte offset in that file
  DType dtype = DType::BF16;
  Shape shape;
};

struct PlanTensor {
  std::string name;
  DType dtype = DType::BF16;  // dtype of the assembled tensor (pieces are converted if they differ)
  Shape shape;
  std::vector<PlanPiece> pieces;  // concatenated along axis 0, in order
};

struct DitConfig {
  int in_channels = 64, out_channels = 64, num_heads = 24, head_dim = 128;
  int num_double = 6, num_single = 27, context_dim = 2048, mlp_hidden = 12288;
  std::vector<int> axes_dims{16, 56, 56};
  float theta = 10000.f, eps = 1e-6f;
  int dim() const { return num_heads * head_dim; }
};

struct TextConfig {
  int hidden = 2048, layers = 28, heads = 16, kv_heads = 8, head_dim = 128, intermediate = 6144;
  int vocab = 151936;
  float eps = 1e-6f, rope_theta = 1000000.f;
};

struct VaeConfig {
  int in_channels = 3, out_channels = 3, latent_channels = 16, layers_per_block = 2, groups = 32;
  std::vector<int> block_out_channels{128, 256, 512, 512};
  float eps = 1e-6f, scaling_factor = 0.3611f, shift_factor = 0.1159f;
  bool mid_attention = true;
};

struct WeightPlan {
  std::vector<std::string> files;
  // The identity each file had when TS checked its header (plan text always carries it); empty for
  // plans built in C++ (tests, benchmarks): those files are mapped unchecked.
  std::vector<FileIdentity> file_ids;
  std::vector<PlanTensor> tensors;
  bool has_dit = false, has_text = false, has_vae = false;  // set by the config lines present
  DitConfig dit;
  TextConfig text;
  VaeConfig vae;
  const PlanTensor* find(const std::string& name) const;
};

// Plan text version this engine reads and writes (docs/WEIGHTS.md).
constexpr int kPlanVersion = 2;
// Parses plan text (docs/WEIGHTS.md). Throws Error("OVIS_BAD_WEIGHTS") naming the line on any problem.
WeightPlan parse_plan(const std::string& text);
// Writes plan text that parse_plan reads back (used by tests and the benchmark). Files without a
// recorded identity get the one they have now.
std::string format_plan(const WeightPlan& plan);

}  // namespace ovis
