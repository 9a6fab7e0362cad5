// Test-only: the golden cases (test/fixtures/golden) as engine inputs, and the image comparison the
// pipeline cases use. Shared by the CPU golden tests and the CUDA golden parity tests.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine.h"
#include "safetensors_reader.h"

namespace ovis::test {

// A fixture file, path relative to golden_dir().
SafetensorsFile golden_file(const std::string& rel);

// Golden ids/masks are stored as floats: host I32 copy.
Tensor ids_as_i32(const Tensor& f);

// docs/MODEL.md "Schedule" with the dynamic shift of the golden scheduler config.
std::vector<float> golden_schedule(int steps, int64_t image_tokens);

// pipeline/<name>: the request as the reference ran it (its initial noise, schedule, guidance and
// prompt embeddings: the pipeline prompts are not among the tokenizer cases).
struct GoldenPipelineCase {
  SafetensorsFile io;
  GenerateRequest req;
  int height = 0, width = 0;
};
GoldenPipelineCase golden_pipeline_case(const std::string& name);

// Our image [1, 3, H, W] in [-1, 1] against the reference [H, W, 3] in [0, 1] (ours mapped and clamped).
struct ImageDiff {
  double max_abs = 0;        // largest |difference|
  double rel = 0;            // ||ours - ref|| / ||ref|| (inf on NaN)
  int64_t beyond_1_255 = 0;  // values differing by more than 1/255
  int64_t total = 0;
};
ImageDiff compare_image(const Tensor& image_nchw, const Tensor& ref_hwc);

}  // namespace ovis::test
