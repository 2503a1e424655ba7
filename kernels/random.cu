// Philox draws on the device: every thread computes its own element's bits with the very same
// header-only code the CPU uses (engine/random/philox.h, transforms.h), so a seed gives the same
// stream on both backends.
#include <type_traits>

#include "engine/random/transforms.h"
#include "kernels/common.cuh"

namespace brenier::kernels {
namespace {

template <class T>
__global__ void uniform_kernel(T* out, int64_t n, uint64_t seed, uint64_t offset, double lo, double width,
                               T lo_t, T below_hi) {
  BRENIER_GRID_STRIDE(i, n) {
    const philox::Counter b = philox::element_bits(seed, offset + static_cast<uint64_t>(i));
    const double u = std::is_same_v<T, float> ? philox::unit_from32(b.w[0])
                                              : philox::unit_from53(philox::join64(b.w[0], b.w[1]));
    // Unfused on purpose: nvcc contracts lo + width * u into one fma, which rounds once where the
    // CPU rounds twice, and the f64 stream would then differ from the CPU's in the last bit.
    const T v = static_cast<T>(__dadd_rn(lo, __dmul_rn(width, u)));
    out[i] = v < lo_t ? lo_t : v > below_hi ? below_hi : v;  // std::min(std::max(v, lo), below_hi)
  }
}

template <class T>
__global__ void normal_kernel(T* out, int64_t n, uint64_t seed, uint64_t offset, double mean, double stddev) {
  BRENIER_GRID_STRIDE(i, n) {
    const philox::Counter b = philox::element_bits(seed, offset + static_cast<uint64_t>(i));
    const double z = std::is_same_v<T, float> ? double{philox::standard_normal_f32(b)}
                                              : philox::standard_normal_f64(b);
    out[i] = static_cast<T>(__dadd_rn(mean, __dmul_rn(stddev, z)));  // unfused, as the CPU computes it
  }
}

}  // namespace

void philox_uniform(DType dtype, void* out, int64_t n, uint64_t seed, uint64_t offset, double lo,
                    double width, double below_hi, cudaStream_t s) {
  if (n == 0) return;
  with_floating(dtype, [&](auto t) {
    using T = decltype(t);
    uniform_kernel<T><<<grid_for(n), kThreads, 0, s>>>(static_cast<T*>(out), n, seed, offset, lo, width,
                                                      static_cast<T>(lo), static_cast<T>(below_hi));
  });
  CUDA_CHECK_LAUNCH();
}

void philox_normal(DType dtype, void* out, int64_t n, uint64_t seed, uint64_t offset, double mean,
                   double stddev, cudaStream_t s) {
  if (n == 0) return;
  with_floating(dtype, [&](auto t) {
    using T = decltype(t);
    normal_kernel<T><<<grid_for(n), kThreads, 0, s>>>(static_cast<T*>(out), n, seed, offset, mean, stddev);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace brenier::kernels
