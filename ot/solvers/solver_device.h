// Moving a solver's freshly initialised modules to its configured device. Every solver draws its initial
// weights on the host (so a seed gives the same networks on every device) and then moves them; a device
// that cannot be used (CUDA missing, index out of range) must fail naming the solver's config field.
#pragma once
#include <initializer_list>

#include "engine/device.h"
#include "engine/nn/module.h"

namespace brenier::ot {

// Moves each module to `device` (nothing to do for the CPU). Throws brenier::Error
// "<op>: config 'device' is <device>, which is not usable here: <cause>".
void move_to_config_device(std::initializer_list<nn::Module*> modules, Device device, const char* op);

}  // namespace brenier::ot
