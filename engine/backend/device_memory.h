// Memory on accelerators, and the few CUDA facts and settings callers need, behind one interface.
// A build without CUDA links cuda_stub.cpp, whose functions throw a clear error (or report "no
// CUDA"), so CPU-only code never needs an #ifdef. A CUDA build links engine/backend/cuda/memory.cpp.
#pragma once
#include <cstddef>
#include <cstdint>

#include "engine/device.h"
#include "engine/dtype.h"

namespace brenier::backend {

bool cuda_available();   // built with CUDA, a driver is loaded and a device is present; never throws
int cuda_device_count();  // 0 when !cuda_available()
bool built_with_cuda();   // this library was compiled with the CUDA backend

void* device_alloc(size_t bytes, Device device);  // from the device's caching allocator
void device_free(void* ptr, size_t bytes, Device device);
// Copies `bytes` between any two devices (host included). Copies to the host wait for the device.
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes);
// Sets the n elements of `dtype` at device memory `ptr` to `value` (queued on the device's stream).
void device_fill(void* ptr, DType dtype, int64_t n, double value, Device device);

// The caching device allocator's books (0 in CPU builds), and a way to give its cache back.
int64_t device_cached_bytes(Device device);
int64_t device_live_bytes(Device device);
void device_release_cache();
// Waits until every op queued on `device`'s stream has run (the CUDA backend is asynchronous).
void synchronize(Device device);
// A CudaGraph (engine/cuda_graph.h) is capturing on `device`: host copies are refused and dispatch skips its
// host-side index checks until the capture ends. Always false in CPU builds.
bool graph_capture_active(Device device);

// f32 matmuls on CUDA may use TF32 tensor cores (10-bit mantissa, ~1e-3 relative error) when
// allowed. Off by default, like PyTorch's torch.backends.cuda.matmul.allow_tf32 since 1.12, so
// f32 results match the CPU within f32 rounding.
void set_allow_tf32(bool allow);
bool allow_tf32();

// The attention op on CUDA: the fused kernel (kernels/attention.cu, heads up to 128 wide) or the composition
// of cuBLAS matmuls and softmax. The composition is the default until the fused kernel has passed its parity
// tests on a GPU (it was written without one); set_cuda_fused_attention(true), or BRENIER_CUDA_FUSED_ATTENTION=1
// in the environment, turns the kernel on. Host attention is always fused.
void set_cuda_fused_attention(bool on);
bool cuda_fused_attention();

}  // namespace brenier::backend
