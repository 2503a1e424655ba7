// The tools' --device flag (see device_flag.h).
#include "tools/common/device_flag.h"

#include "engine/backend/device_memory.h"
#include "engine/error.h"

namespace brenier::tools {

Device parse_device_flag(const std::string& text, const char* flag) {
  Device device;
  try {
    device = parse_device(text, flag);
  } catch (const std::exception&) {  // Error, or std::out_of_range from a huge index
    throw Error(fmt::format("{}: must be cpu, cuda or cuda:<index>, got '{}'", flag, text));
  }
  if (device.is_cpu()) return device;
  BRENIER_CHECK(backend::built_with_cuda(),
                "{} {}: this brenier was built without CUDA; reconfigure with -Dcuda=enabled on a machine with nvcc "
                "(README, 'GPU'), or use --device cpu",
                flag, text);
  BRENIER_CHECK(backend::cuda_available(),
                "{} {}: no CUDA device is usable here (no GPU or no driver); use --device cpu", flag, text);
  BRENIER_CHECK(device.index < backend::cuda_device_count(), "{} {}: this machine has {} CUDA device(s), indices 0..{}",
                flag, text, backend::cuda_device_count(), backend::cuda_device_count() - 1);
  return device;
}

}  // namespace brenier::tools
