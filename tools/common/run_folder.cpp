// The run-folder checks every tool makes before it trains (see run_folder.h).
#include "tools/common/run_folder.h"

#include <fmt/format.h>

#include <fstream>
#include <system_error>

#include "engine/error.h"

namespace brenier::tools {

namespace fs = std::filesystem;

void prepare_run_folder(const std::string& tool, const std::string& experiment, const fs::path& out, bool resume,
                        const nlohmann::json& options, const std::vector<std::string>& keys,
                        const std::vector<std::string>& subfolders, const nlohmann::json& added_options) {
  const fs::path config_file = out / "config.json";
  if (!resume) {
    BRENIER_CHECK(!fs::exists(config_file),
                  "--out: '{}' already holds a run (config.json); pass --resume to continue it, or choose another "
                  "folder",
                  out.string());
  } else {
    BRENIER_CHECK(fs::is_regular_file(config_file),
                  "--resume: '{}' holds no {} run to continue (no config.json); run without --resume first",
                  out.string(), tool);
    nlohmann::json previous;
    try {
      std::ifstream in(config_file);
      previous = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      throw Error(fmt::format("--resume: '{}' is not a config.json of a {} run: {}", config_file.string(), tool,
                              e.what()));
    }
    BRENIER_CHECK(previous.value("experiment", "") == experiment, "--resume: the run in '{}' is a '{}' run, not '{}'",
                  out.string(), previous.value("experiment", "?"), experiment);
    nlohmann::json before = previous.value("options", nlohmann::json::object());
    for (const auto& [key, value] : added_options.items())
      if (!before.contains(key)) before[key] = value;
    for (const std::string& key : keys)
      BRENIER_CHECK(before.contains(key) && before[key] == options[key],
                    "--resume: the run in '{}' used {} {}, but this command asks for {}; resume with the same value",
                    out.string(), key, before.contains(key) ? before[key].dump() : "(unknown)", options[key].dump());
  }
  std::vector<fs::path> dirs{out};
  for (const std::string& sub : subfolders) dirs.push_back(out / sub);
  for (const fs::path& dir : dirs) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    BRENIER_CHECK(!ec, "--out: cannot create '{}': {}", dir.string(), ec.message());
  }
}

}  // namespace brenier::tools
