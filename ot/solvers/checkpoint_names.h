// Small helpers the solvers' save()/load() share: a checkpoint holds every module's tensors under a prefix
// ("psi.", "adam.") and records layer sizes as text in its metadata, beside any metadata of the caller's.
#pragma once
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/nn/module.h"

namespace brenier::ot {

// "64,64,32": sizes as recorded in checkpoint metadata.
inline std::string join_sizes(const std::vector<int64_t>& sizes) { return fmt::format("{}", fmt::join(sizes, ",")); }

// The entries of `all` whose name starts with `prefix`, with the prefix removed (one module's state_dict).
inline nn::NamedTensors with_prefix(const std::map<std::string, Tensor>& all, const std::string& prefix) {
  nn::NamedTensors out;
  for (const auto& [name, t] : all)
    if (name.rfind(prefix, 0) == 0) out.emplace_back(name.substr(prefix.size()), t);
  return out;
}

// The caller's own metadata (e.g. a tool's elapsed time) merged into the solver's; `op` names the solver's save
// in the error when a key is empty or clashes with one of the solver's.
inline std::map<std::string, std::string> merged_metadata(std::map<std::string, std::string> solver,
                                                          const std::map<std::string, std::string>& extra,
                                                          const char* op) {
  for (const auto& [key, value] : extra) {
    BRENIER_CHECK(!key.empty() && solver.count(key) == 0,
                  "{}: argument 'metadata' must not use the solver's own key '{}' (or an empty key)", op, key);
    solver.emplace(key, value);
  }
  return solver;
}

}  // namespace brenier::ot
