// Launchers of the convolution column kernels (kernels/conv.cu). Like kernels/launch.cuh: raw
// device pointers, sizes and a stream, no Tensor, so both nvcc and the host compiler read it.
// Arguments arrive checked by engine/backend/dispatch.cpp.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>

#include "engine/dtype.h"

namespace brenier::kernels {

// A convolution's geometry: image [batch, channels, h, w], kernel [kh, kw], one stride and zero
// padding for both dims, output positions [ho, wo].
struct ConvGeometry {
  int64_t batch, channels, h, w, kh, kw, stride, padding, ho, wo;
};

// cols [batch, channels*kh*kw, ho*wo] from x [batch, channels, h, w] (0 in the padding).
void im2col(DType dtype, const void* x, void* cols, const ConvGeometry& g, cudaStream_t s);
// x [batch, channels, h, w] = sum of the column entries read from each pixel (im2col's adjoint).
// One thread per pixel gathers its entries: no atomics, deterministic.
void col2im(DType dtype, const void* cols, void* x, const ConvGeometry& g, cudaStream_t s);

}  // namespace brenier::kernels
