// The messages behind CUDA_CHECK and CUBLAS_CHECK: what failed, where, and a hint at the fix.
#include "engine/backend/cuda/cuda_check.h"

#include <cublas_v2.h>

#include "engine/error.h"

namespace brenier::cuda {
namespace {

const char* cuda_hint(cudaError_t err) {
  switch (err) {
    case cudaErrorMemoryAllocation:
      return "the GPU is out of memory: free tensors you no longer need, call "
             "backend::device_release_cache(), or use smaller batches";
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorInitializationError:
      return "no usable GPU or driver here (check nvidia-smi); use device 'cpu'";
    case cudaErrorInvalidDevice:
      return "the device index is out of range: 'cuda:N' needs N < the number of GPUs";
    case cudaErrorNoKernelImageForDevice:
    case cudaErrorUnsupportedPtxVersion:
      return "this build carries sm_90 machine code and compute_90 PTX (meson.build, cuda_arch); "
             "rebuild for this GPU's architecture";
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorMisalignedAddress:
      return "a kernel accessed memory out of bounds: rerun under 'compute-sanitizer --tool "
             "memcheck' to find it (the CUDA context is now unusable)";
    case cudaErrorInvalidConfiguration:
      return "a kernel launch had an invalid grid or block size (a bug in kernels/: report the op)";
    case cudaErrorStreamCaptureUnsupported:
    case cudaErrorStreamCaptureInvalidated:
      return "an operation that synchronizes (a copy to the host, an index check) ran inside "
             "CUDA graph capture; keep captured steps free of host reads";
    default:
      return "see the CUDA runtime documentation for this error";
  }
}

const char* cublas_name(int status) {
  switch (status) {
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "unknown cuBLAS status";
  }
}

const char* cublas_hint(int status) {
  switch (status) {
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "cuBLAS could not start: check the driver (nvidia-smi) and that libcublas matches it";
    case CUBLAS_STATUS_ALLOC_FAILED:
      return "cuBLAS ran out of GPU memory: free tensors or call backend::device_release_cache()";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "a GEMM size or leading dimension is invalid (a bug in engine/backend/cuda/matmul.cpp)";
    case CUBLAS_STATUS_ARCH_MISMATCH:
      return "this GPU lacks a feature the call needs (f64 or TF32 GEMM)";
    default:
      return "see the cuBLAS documentation for this status";
  }
}

}  // namespace

void throw_cuda_error(cudaError_t err, const char* expr, const char* file, int line) {
  throw Error(fmt::format("CUDA error {} ({}) in {} at {}:{}. HINT: {}", cudaGetErrorName(err),
                          cudaGetErrorString(err), expr, file, line, cuda_hint(err)));
}

void throw_cublas_error(int status, const char* expr, const char* file, int line) {
  throw Error(fmt::format("cuBLAS error {} ({}) in {} at {}:{}. HINT: {}", cublas_name(status),
                          status, expr, file, line, cublas_hint(status)));
}

}  // namespace brenier::cuda
