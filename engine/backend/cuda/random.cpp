// Philox draws into CUDA tensors (see random.h); the kernels are kernels/random.cu.
#include "engine/backend/cuda/random.h"

#include <cmath>

#include "engine/backend/cuda/context.h"
#include "kernels/launch.cuh"

namespace brenier::cuda {
namespace {
void require_cuda_floating(const Tensor& out, const char* op) {
  check_defined(out, op, "out");
  BRENIER_CHECK(out.device().is_cuda() && is_floating(out.dtype()),
                "{}: argument 'out' must be an f32 or f64 CUDA tensor, got {}", op, out.str());
}
}  // namespace

void philox_uniform(Tensor& out, uint64_t seed, uint64_t offset, double lo, double hi) {
  require_cuda_floating(out, "cuda::philox_uniform");
  // Rounding lo + width * u to T can land on hi; the clamp to the T below hi keeps it half-open,
  // exactly as generator.cpp does.
  const double below_hi = out.dtype() == DType::F32
                              ? static_cast<double>(std::nextafter(static_cast<float>(hi), static_cast<float>(lo)))
                              : std::nextafter(hi, lo);
  kernels::philox_uniform(out.dtype(), out.raw_data(), out.numel(), seed, offset, lo, hi - lo, below_hi,
                          stream_of(out.device()));
}

void philox_normal(Tensor& out, uint64_t seed, uint64_t offset, double mean, double std) {
  require_cuda_floating(out, "cuda::philox_normal");
  kernels::philox_normal(out.dtype(), out.raw_data(), out.numel(), seed, offset, mean, std,
                         stream_of(out.device()));
}

}  // namespace brenier::cuda
