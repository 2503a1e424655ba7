// Small helpers the solvers' save()/load() share: a checkpoint holds every module's tensors under a prefix
// ("psi.", "adam.") and records layer sizes as text in its metadata.
#pragma once
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

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

}  // namespace brenier::ot
