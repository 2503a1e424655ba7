// Memory on accelerators, behind one interface. A build without CUDA links cuda_stub.cpp, whose
// functions throw a clear error, so CPU-only code never needs an #ifdef.
#pragma once
#include <cstddef>

#include "engine/device.h"

namespace brenier::backend {

bool cuda_available();  // built with CUDA and a device is present
void* device_alloc(size_t bytes, Device device);
void device_free(void* ptr, size_t bytes, Device device);
// Copies `bytes` between any two devices (host included).
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes);

}  // namespace brenier::backend
