// CUDA robustness: out-of-memory leaves a usable engine, weights are converted once at upload (no f16
// activation overflow), and the fast paths are the ones taken.
#include <cuda_runtime.h>

#include <cmath>
#include <memory>

#include "core/backend.h"
#include "core/error.h"
#include "tests/testing.h"

using namespace ovis;

namespace {
std::unique_ptr<Backend> gpu(bool fp32) {
  BackendOptions o;
  o.device = "cuda";
  o.fp32 = fp32;
  return create_backend(o);
}
}  // namespace

TEST(cuda_out_of_memory_then_usable) {
  auto be = gpu(false);
  size_t free_b = 0, total_b = 0;
  CHECK(cudaMemGetInfo(&free_b, &total_b) == cudaSuccess);
  const int64_t too_many = int64_t(total_b / 4) * 2;  // f32 elements: twice the device's memory
  CHECK_THROWS_CODE(be->alloc(Shape{too_many}, DType::F32), "OVIS_OUT_OF_MEMORY");
  auto cpu = create_cpu_backend(0);
  Tensor x = ovis_test::random_tensor(Shape{64, 96}, DType::F32, 1),
         w = ovis_test::random_tensor(Shape{80, 96}, DType::BF16, 2);
  Tensor want = cpu->linear(x, w, nullptr);
  Tensor got = be->to_host_f32(be->linear(be->upload(x), be->upload_weight(w), nullptr));
  CHECK_REL(got, ovis_test::to_f64(want), 1e-2, "linear after an out-of-memory error");
  Tensor big = be->alloc(Shape{int64_t(1) << 28}, DType::F32);  // 1 GiB still allocates
  CHECK(big.defined());
}

TEST(cuda_weights_converted_once_no_f16_overflow) {
  for (bool fp32 : {false, true}) {
    auto be = gpu(fp32);
    Tensor w16 = ovis_test::random_tensor(Shape{48, 64}, DType::F16, 3);
    Tensor w = be->upload_weight(w16);
    CHECK(w.dtype == (fp32 ? DType::F32 : DType::BF16));
    // Activations far beyond f16's range (65504): a GEMM in f16 operands would give inf.
    Tensor x = ovis_test::random_tensor(Shape{5, 64}, DType::F32, 4, -2e5f, 2e5f);
    Tensor y = be->to_host_f32(be->linear(be->upload(x), be->upload(w16), nullptr));
    auto cpu = create_cpu_backend(0);
    CHECK_REL(y, ovis_test::to_f64(cpu->linear(x, w16, nullptr)), 2e-2, "f16 weight, large activations");
  }
}

TEST(cuda_fast_paths_taken) {
  auto be = gpu(false);
  Tensor x = ovis_test::random_tensor(Shape{1024, 1024}, DType::F32, 5);
  Tensor w = be->upload_weight(ovis_test::random_tensor(Shape{1024, 1024}, DType::BF16, 6));
  be->linear(be->upload(x), w, nullptr);
  Tensor q = be->upload(ovis_test::random_tensor(Shape{1, 300, 2, 128}, DType::F32, 7));
  be->attention(q, q, q, 0.088f, false, nullptr);
  be->sync();
  const std::string counts = be->path_counts();
  CHECK_MSG(be->slow_path_calls() == 0, counts);
  CHECK_MSG(counts.find("cublaslt 1") != std::string::npos && counts.find("flash 1") != std::string::npos, counts);
}
