// A block-wide reduction through shared memory, for kernels that give one block to each output
// (reduce, softmax, layer_norm). Every thread of the block must call it; all get the result.
#pragma once
#include "kernels/common.cuh"

namespace brenier::kernels {

// Combines the blockDim.x values `v` (blockDim.x a power of two, <= kThreads) with `op`.
template <class T, class Op>
__device__ T block_reduce(T v, Op op) {
  static_assert(sizeof(T) <= sizeof(double), "block_reduce: 8-byte values at most");
  __shared__ double raw[kThreads];  // double: 8-byte aligned storage for any T used here
  T* buf = reinterpret_cast<T*>(raw);
  __syncthreads();  // the buffer may still be read by a previous call
  buf[threadIdx.x] = v;
  __syncthreads();
  for (unsigned width = blockDim.x / 2; width > 0; width /= 2) {
    if (threadIdx.x < width) buf[threadIdx.x] = op(buf[threadIdx.x], buf[threadIdx.x + width]);
    __syncthreads();
  }
  return buf[0];
}

// Threads per block for a per-output reduction over `n` values: a power of two in [32, kThreads].
inline unsigned threads_for(int64_t n) {
  unsigned t = 32;
  while (t < kThreads && t < n) t *= 2;
  return t;
}

}  // namespace brenier::kernels
