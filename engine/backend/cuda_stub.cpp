// Built when CUDA is off: every CUDA request fails with an error that says how to get it, and the
// facts say "no CUDA".
#include <atomic>
#include <cstring>

#include "engine/backend/device_memory.h"
#include "engine/error.h"

namespace brenier::backend {

namespace {
[[noreturn]] void no_cuda(Device d) {
  throw Error(fmt::format(
      "device {}: this brenier was built without CUDA; reconfigure with -Dcuda=enabled on a "
      "machine with nvcc (see README, 'GPU'), or use device 'cpu'",
      d.str()));
}
std::atomic<bool> tf32_allowed{false};
}  // namespace

bool cuda_available() { return false; }
int cuda_device_count() { return 0; }
bool built_with_cuda() { return false; }
void* device_alloc(size_t, Device device) { no_cuda(device); }
void device_free(void*, size_t, Device) {}
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  if (!dst_device.is_cpu()) no_cuda(dst_device);
  if (!src_device.is_cpu()) no_cuda(src_device);
  if (bytes) std::memcpy(dst, src, bytes);
}
void device_fill(void*, DType, int64_t, double, Device device) { no_cuda(device); }
int64_t device_cached_bytes(Device) { return 0; }
int64_t device_live_bytes(Device) { return 0; }
void device_release_cache() {}
void synchronize(Device device) {
  if (!device.is_cpu()) no_cuda(device);
}
bool graph_capture_active(Device) { return false; }
void set_allow_tf32(bool allow) { tf32_allowed = allow; }
bool allow_tf32() { return tf32_allowed; }
void set_cuda_fused_attention(bool) {}
bool cuda_fused_attention() { return false; }

}  // namespace brenier::backend
