// Philox draws straight into CUDA tensors: the device half of brenier::Generator. For the same
// (seed, offset) they give the values Generator::uniform / Generator::normal give on the CPU
// (uniform bit for bit; normal within a few ulp, through the device's log/cos/sqrt), because the
// kernels run the same header-only Philox and transforms (engine/random/philox.h, transforms.h).
// Generator::uniform / normal call these for CUDA devices. Arguments are those Generator has checked.
#pragma once
#include <cstdint>

#include "engine/tensor.h"

namespace brenier::cuda {

// out (f32/f64 on CUDA) <- uniform [lo, hi) draws from stream elements offset .. offset + numel - 1.
void philox_uniform(Tensor& out, uint64_t seed, uint64_t offset, double lo, double hi);
// out (f32/f64 on CUDA) <- mean + std * standard normal draws, same elements.
void philox_normal(Tensor& out, uint64_t seed, uint64_t offset, double mean, double std);

}  // namespace brenier::cuda
