// Per-device CUDA state: one stream and one cuBLAS handle per device, created on first use.
// Every op of the CUDA backend runs on its device's stream, in order, so a block freed by one op
// and reused by the next is never in use twice (the caching allocator relies on this).
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "engine/device.h"

namespace brenier::cuda {

struct DeviceContext {
  cudaStream_t stream = nullptr;
  cublasHandle_t blas = nullptr;
  bool blas_tf32 = false;  // the math mode last set on `blas`
};

// Makes `device` current on this thread and returns its context (created on first use).
// Throws a clear error when CUDA is not available or the index is out of range.
DeviceContext& context(Device device);
inline cudaStream_t stream_of(Device device) { return context(device).stream; }

}  // namespace brenier::cuda
