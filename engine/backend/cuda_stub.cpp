// Built when CUDA is off: every CUDA request fails with an error that says how to get it.
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
}  // namespace

bool cuda_available() { return false; }
void* device_alloc(size_t, Device device) { no_cuda(device); }
void device_free(void*, size_t, Device) {}
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  if (!dst_device.is_cpu()) no_cuda(dst_device);
  if (!src_device.is_cpu()) no_cuda(src_device);
  if (bytes) std::memcpy(dst, src, bytes);
}

}  // namespace brenier::backend
