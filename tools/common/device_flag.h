// The tools' `--device` flag: "cpu", "cuda" or "cuda:<i>", checked before any work starts, so a run
// that cannot use the device asks for it to be fixed instead of failing minutes later.
#pragma once
#include <string>

#include "engine/device.h"

namespace brenier::tools {

// Parses `text` and, for a CUDA device, requires that this brenier was built with CUDA and that the
// device exists here. Throws brenier::Error naming `flag` (e.g. "--device") and saying what to do.
Device parse_device_flag(const std::string& text, const char* flag = "--device");

}  // namespace brenier::tools
