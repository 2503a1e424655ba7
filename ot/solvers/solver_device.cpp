// See solver_device.h.
#include "ot/solvers/solver_device.h"

#include <fmt/format.h>

#include "engine/error.h"

namespace brenier::ot {

void move_to_config_device(std::initializer_list<nn::Module*> modules, Device device, const char* op) {
  if (device.is_cpu()) return;
  try {
    for (nn::Module* m : modules) m->to(device);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: config 'device' is {}, which is not usable here: {}", op, device.str(), e.what()));
  }
}

}  // namespace brenier::ot
