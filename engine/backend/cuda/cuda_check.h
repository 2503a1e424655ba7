// CUDA_CHECK / CUBLAS_CHECK: every CUDA runtime and cuBLAS call is checked; a failure throws
// brenier::Error with the call, file:line, the library's own message and a HINT at the fix
// (the llm.c cudaCheck pattern, but throwing instead of exiting: the library never exits).
// Free of fmt and Tensor, so kernels/*.cu include it too (CUDA_CHECK_LAUNCH after each launch).
#pragma once
#include <cuda_runtime_api.h>

namespace brenier::cuda {

[[noreturn]] void throw_cuda_error(cudaError_t err, const char* expr, const char* file, int line);
[[noreturn]] void throw_cublas_error(int status, const char* expr, const char* file, int line);

}  // namespace brenier::cuda

#define CUDA_CHECK(expr)                                                                    \
  do {                                                                                      \
    const cudaError_t brenier_cuda_err_ = (expr);                                           \
    if (brenier_cuda_err_ != cudaSuccess)                                                   \
      ::brenier::cuda::throw_cuda_error(brenier_cuda_err_, #expr, __FILE__, __LINE__);      \
  } while (0)

// cublasStatus_t is an int-sized enum; compared to 0 (CUBLAS_STATUS_SUCCESS) so this header needs
// no cuBLAS include.
#define CUBLAS_CHECK(expr)                                                                  \
  do {                                                                                      \
    const int brenier_cublas_status_ = static_cast<int>(expr);                              \
    if (brenier_cublas_status_ != 0)                                                        \
      ::brenier::cuda::throw_cublas_error(brenier_cublas_status_, #expr, __FILE__, __LINE__); \
  } while (0)

// After a kernel launch: reports a bad launch configuration at once (errors inside the kernel
// surface at the next synchronizing call, which is checked too).
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())
