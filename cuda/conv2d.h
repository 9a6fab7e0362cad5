// Host side of the CUDA convolution: a 1x1 conv as one GEMM per image, any other as im2row chunks
// (im2row.cu) each followed by a GEMM (see conv2d.cpp).
#pragma once
#include "cuda_backend.h"

namespace ovis::cuda {

// Arguments were checked by the Backend front.
Tensor conv2d_forward(CudaBackend& be, const Tensor& x, const Tensor& w, const Tensor* bias, int stride, int pad_top,
                      int pad_left, int pad_bottom, int pad_right);

// Output pixels per im2row chunk for a patch row of kdim elements of es bytes: the chunk stays under
// ~256 MiB and is a multiple of 64 pixels (at least 64).
int64_t conv_chunk_pixels(int64_t pixels, int64_t kdim, size_t es);

}  // namespace ovis::cuda
