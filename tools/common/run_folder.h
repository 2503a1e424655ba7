// The run-folder protocol the tools share: `--out DIR` holds one run (config.json, metrics.jsonl,
// checkpoints/, results.*); a fresh run refuses a folder that already holds one, and `--resume` accepts
// only a run of the same tool and experiment whose recorded options agree on the keys that shape the run
// (so a resumed run cannot silently mix settings).
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace brenier::tools {

// Checks `out` for a fresh run (no config.json) or, with `resume`, for a `tool` run of `experiment` whose
// config.json "options" equal `options` on every key of `keys`; throws brenier::Error naming --out /
// --resume otherwise. Then creates `out` and its `subfolders` (e.g. "checkpoints", "figures").
// `added_options` holds options introduced after older runs were written, with the value those runs had
// implicitly: a key missing from an older config.json is compared as that value, so the old run resumes.
void prepare_run_folder(const std::string& tool, const std::string& experiment, const std::filesystem::path& out,
                        bool resume, const nlohmann::json& options, const std::vector<std::string>& keys,
                        const std::vector<std::string>& subfolders = {"checkpoints"},
                        const nlohmann::json& added_options = nlohmann::json::object());

}  // namespace brenier::tools
