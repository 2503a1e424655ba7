// Finding the shared data folder (see shared_data.h).
#include "tools/common/shared_data.h"

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "engine/error.h"

namespace brenier::tools {

namespace fs = std::filesystem;

std::string resolve_shared_dir(const std::string& flag, const std::string& required, const std::string& tool) {
  if (!flag.empty()) {
    BRENIER_CHECK(fs::is_directory(flag), "--shared: data folder '{}' does not exist", flag);
    return flag;
  }
  if (const char* env = std::getenv("BRENIER_SHARED"); env != nullptr && *env != '\0') {
    BRENIER_CHECK(fs::is_directory(env), "BRENIER_SHARED: data folder '{}' does not exist", env);
    return env;
  }
  // BRENIER_SOURCE_ROOT (set by tools/meson.build) lets a binary run from anywhere find ../shared
  // beside the checkout.
  std::vector<fs::path> tried{fs::path("..") / "shared", fs::path(BRENIER_SOURCE_ROOT).parent_path() / "shared"};
  for (const fs::path& candidate : tried)
    if (fs::is_directory(candidate / required)) return candidate.string();
  std::vector<std::string> names;
  for (const fs::path& candidate : tried) names.push_back(fs::absolute(candidate).lexically_normal().string());
  throw Error(fmt::format("{}: the shared data folder (holding {}) was not found; tried {}; pass --shared PATH or set "
                          "BRENIER_SHARED",
                          tool, required, fmt::join(names, ", ")));
}

}  // namespace brenier::tools
