// Finding ../shared (the papers' data, the W2 benchmark, the reference figures) the same way in every
// tool: --shared, else $BRENIER_SHARED, else ../shared next to the current folder or the source tree.
#pragma once
#include <string>

namespace brenier::tools {

// The shared folder holding `required` (e.g. "data/w2bench"). `flag` is the --shared value (may be
// empty); `tool` names the caller in the error. Throws brenier::Error naming what was tried.
std::string resolve_shared_dir(const std::string& flag, const std::string& required, const std::string& tool);

}  // namespace brenier::tools
