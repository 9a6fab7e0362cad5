// Random bf16 weights for every canonical tensor of a model, made directly on the CUDA device (no
// files, no 20 GB host buffers) and handed to the engine as a WeightStore. Header-only: cmake/cuda.cmake
// builds ovis_bench_gpu from bench_gpu.cpp alone.
#pragma once
#include <cuda_runtime.h>

#include <cmath>
#include <map>
#include <memory>
#include <random>
#include <string>

#include "../common/weight_init.h"
#include "core/error.h"
#include "cuda_backend.h"
#include "cuda_check.h"
#include "io/canonical_tensors.h"
#include "io/weights.h"

namespace ovis::bench {

struct DeviceRandomWeights {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, WeightStore::Loader> loaders;
  int64_t params = 0;
  size_t host_copy_bytes = 0;
};

// One tensor with the rule of weight_init.h: matrices from the device's uniform generator with the rule's
// standard deviation (uniform on [-a, a) has std a/sqrt(3)); vectors (norm scales, biases: tiny) drawn
// on the host as mean + std * N(0, 1) and uploaded.
inline Tensor device_random_tensor(cuda::CudaBackend& be, const TensorSpec& spec, uint64_t seed) {
  const WeightInit init = random_weight_init(spec.name, spec.shape);
  if (spec.shape.rank == 1) {
    Tensor host = host_alloc(spec.shape, DType::BF16);
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.f, 1.f);
    for (int64_t i = 0; i < host.numel(); ++i)
      host.ptr<uint16_t>()[i] = f32_to_bf16(init.mean + init.stddev * normal(rng));
    return be.upload_weight(host);
  }
  Tensor t = be.alloc(spec.shape, be.gemm_types(DType::BF16).operand);  // stored as the GEMMs read it
  be.fill_random(t, init.stddev * std::sqrt(3.f), seed);
  return t;
}

// Every tensor of `model`. Tensors whose names start with reloadable_prefix (e.g. "te."; empty = none)
// also get a host copy and a loader that uploads it again, as the file path re-uploads from its mapping,
// so the engine may release them (EngineOptions::keep_text_encoder = false).
inline DeviceRandomWeights make_device_random_weights(cuda::CudaBackend& be, const ModelConfig& model,
                                                      const std::string& reloadable_prefix) {
  DeviceRandomWeights out;
  uint64_t seed = 1;
  for (const TensorSpec& spec : model_tensor_specs(model, false)) {
    Tensor t = device_random_tensor(be, spec, seed++);
    out.params += t.numel();
    if (!reloadable_prefix.empty() && spec.name.rfind(reloadable_prefix, 0) == 0) {
      Tensor host = host_alloc(t.shape, t.dtype);
      be.sync();
      CUDA_CHECK(cudaMemcpy(host.data, t.data, t.nbytes(), cudaMemcpyDeviceToHost));
      out.host_copy_bytes += t.nbytes();
      cuda::CudaBackend* backend = &be;  // owned by the engine, which outlives its weights
      out.loaders[spec.name] = [backend, host] { return backend->upload_weight(host); };
    }
    out.tensors[spec.name] = std::move(t);
  }
  be.sync();
  return out;
}

}  // namespace ovis::bench
