// What every kernel file shares: launch geometry (grid-stride loops, capped grids), the
// device-side walk of a Strided<N> layout, dtype dispatch for launchers, and atomic adds for
// f32, f64 and i64. CUDA code only.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "engine/backend/cuda/cuda_check.h"
#include "kernels/launch.cuh"

namespace brenier::kernels {

constexpr int kThreads = 256;

// Blocks for a grid-stride loop over n elements: enough to fill an H100 several times over,
// never more than needed.
inline unsigned grid_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks < 1 ? 1 : blocks > 65535 * 8 ? 65535 * 8 : blocks);
}

#define BRENIER_GRID_STRIDE(i, n)                                                            \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n);   \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

// Operand offsets of row-major position `pos` in a Strided<N> walk.
template <int N>
__device__ inline void offsets_at(const Strided<N>& l, int64_t pos, int64_t* off) {
  for (int k = 0; k < N; ++k) off[k] = 0;
  for (int d = l.rank - 1; d >= 0; --d) {
    const int64_t i = pos % l.shape[d];
    pos /= l.shape[d];
    for (int k = 0; k < N; ++k) off[k] += i * l.stride[k][d];
  }
}

// Calls f(T{}) for the C++ type of `t` (host side, in launchers).
template <class F>
void with_dtype(DType t, F&& f) {
  switch (t) {
    case DType::F32: f(float{}); break;
    case DType::F64: f(double{}); break;
    default: f(int64_t{}); break;
  }
}
template <class F>
void with_floating(DType t, F&& f) {
  if (t == DType::F64) f(double{});
  else f(float{});
}

__device__ inline void atomic_add(float* p, float v) { atomicAdd(p, v); }
__device__ inline void atomic_add(double* p, double v) { atomicAdd(p, v); }
// Two's complement: an unsigned 64-bit add is the signed add.
__device__ inline void atomic_add(int64_t* p, int64_t v) {
  atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));
}

}  // namespace brenier::kernels
