// Host side of CUDA attention: picks the kernel for one call (see attention.cpp).
#pragma once
#include "cuda_backend.h"

namespace ovis::cuda {

// Arguments were checked by the Backend front.
Tensor attention_forward(CudaBackend& be, const Tensor& q, const Tensor& k, const Tensor& v, float scale, bool causal,
                         const Tensor* key_mask);

}  // namespace ovis::cuda
