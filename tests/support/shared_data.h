// Where the shared data sets live, for tests that read real files. Tests run from the repo root, so
// the default is "../shared"; BRENIER_SHARED overrides it. nullopt when absent, so tests can skip.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

inline std::optional<std::string> shared_dir() {
  const char* env = std::getenv("BRENIER_SHARED");
  std::string dir = env != nullptr && *env != '\0' ? env : "../shared";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return std::nullopt;
  return dir;
}
