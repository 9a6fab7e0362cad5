// Block-quantized weights on CUDA: linear on every ggml block type of the golden GGUF (dequantized
// per layer into a scratch matrix) against the CPU backend (dequantize while packing).
#include <memory>
#include <set>
#include <string>

#include "core/backend.h"
#include "tests/golden_plan.h"
#include "tests/gguf_reader.h"
#include "tests/testing.h"

using namespace ovis;

namespace {

bool block_dtype_of(uint32_t id, DType& out) {
  const std::pair<uint32_t, DType> ids[] = {{2, DType::Q4_0},  {3, DType::Q4_1},  {6, DType::Q5_0},  {7, DType::Q5_1},
                                            {8, DType::Q8_0},  {10, DType::Q2_K}, {11, DType::Q3_K}, {12, DType::Q4_K},
                                            {13, DType::Q5_K}, {14, DType::Q6_K}};
  for (const auto& p : ids)
    if (p.first == id) return out = p.second, true;
  return false;
}

void linear_matches_cpu(bool fp32, double tol) {
  const test::GgufFile f = test::read_gguf(test::golden_dir() + "/gguf/ovis_image-mixed.gguf");
  std::unique_ptr<Backend> cpu = create_cpu_backend(2), gpu = create_cuda_backend(0, fp32);
  std::set<DType> seen;
  for (const auto& kv : f.entries) {
    DType t;
    if (!block_dtype_of(kv.second.type, t) || seen.count(t)) continue;
    seen.insert(t);
    int64_t rows = 1;
    for (size_t i = 1; i < kv.second.dims.size(); ++i) rows *= kv.second.dims[i];
    const int64_t K = kv.second.dims[0];
    Tensor w = host_view(const_cast<uint8_t*>(f.data(kv.second)), Shape{rows, K}, t);
    Tensor x = ovis_test::random_tensor(Shape{2, 9, K}, DType::F32, 3);
    Tensor ref = cpu->linear(x, w, nullptr);
    Tensor out = gpu->to_host_f32(gpu->linear(gpu->upload(x), gpu->upload(w), nullptr));
    CHECK_REL(out, ovis_test::to_f64(ref), tol, kv.first + " " + dtype_name(t) + (fp32 ? " fp32" : " bf16"));
  }
  CHECK(seen.size() == 10);
}

}  // namespace

TEST(cuda_quant_linear_fp32) { linear_matches_cpu(true, 1e-5); }
TEST(cuda_quant_linear_bf16) { linear_matches_cpu(false, 1e-2); }
