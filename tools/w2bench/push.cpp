// `w2bench push`: applies a trained map from a run folder to the user's own points, so the fitted OT
// map is usable outside the tool: ∇ψ (fwd, source → target) or ∇ψ̄ (inv, target → source) on an
// [n, D] .npy file. The solver's method, sizes and dtype are read from the checkpoint's metadata.
#include <fmt/format.h>

#include "engine/io/checkpoint.h"
#include "engine/io/npy.h"
#include "ot/solvers/w2_solver.h"
#include "tools/common/cli.h"
#include "tools/w2bench/tool.h"

namespace brenier::w2bench_tool {
namespace {

// The solver configuration a w2bench checkpoint was written with (its "__metadata__").
ot::W2SolverConfig config_from_checkpoint(const fs::path& path, int64_t dim) {
  io::Checkpoint checkpoint;
  try {
    checkpoint = io::load_checkpoint(path.string());
  } catch (const Error& e) {
    throw Error(fmt::format("push: cannot read checkpoint '{}': {}", path.string(), e.what()));
  }
  auto meta = [&](const std::string& key) {
    auto it = checkpoint.metadata.find(key);
    BRENIER_CHECK(it != checkpoint.metadata.end(),
                  "push: checkpoint '{}' has no '{}' entry in its metadata: not written by w2bench", path.string(),
                  key);
    return it->second;
  };
  BRENIER_CHECK(meta("solver") == "w2", "push: checkpoint '{}' is not a W2 benchmark solver's (solver '{}')",
                path.string(), meta("solver"));
  BRENIER_CHECK(meta("dim") == std::to_string(dim), "push: checkpoint '{}' holds dim {}, but --dim is {}",
                path.string(), meta("dim"), dim);
  ot::W2SolverConfig config;
  config.method = ot::parse_w2_method(meta("method"));
  config.dim = dim;
  config.hidden = tools::parse_int_list(meta("hidden"), "checkpoint metadata 'hidden'");
  config.rank = tools::parse_int_list(meta("rank"), "checkpoint metadata 'rank'").at(0);
  try {
    config.strong_convexity = std::stod(meta("strong_convexity"));
  } catch (const std::exception&) {
    throw Error(fmt::format("push: checkpoint '{}' has a non-numeric 'strong_convexity' entry '{}'", path.string(),
                            meta("strong_convexity")));
  }
  config.dtype = meta("dtype") == "f64" ? DType::F64 : DType::F32;
  config.pretrain.enabled = false;
  return config;
}

}  // namespace

int run_push(const PushOptions& opt) {
  BRENIER_CHECK(fs::is_directory(opt.run), "push: --run folder '{}' does not exist", opt.run.string());
  const fs::path checkpoint = opt.run / "checkpoints" / fmt::format("dim{}.safetensors", opt.dim);
  if (!fs::is_regular_file(checkpoint)) {
    std::vector<std::string> found;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(opt.run / "checkpoints", ec))
      if (entry.path().extension() == ".safetensors") found.push_back(entry.path().stem().string());
    std::sort(found.begin(), found.end());
    throw Error(fmt::format("push: --dim {}: '{}' does not exist; checkpoints in this run: {}", opt.dim,
                            checkpoint.string(), found.empty() ? "none" : fmt::format("{}", fmt::join(found, ", "))));
  }
  ot::W2Solver solver(config_from_checkpoint(checkpoint, opt.dim));
  solver.load(checkpoint.string());

  Tensor points;
  try {
    points = io::load_npy(opt.input.string());
  } catch (const Error& e) {
    throw Error(fmt::format("push: --input '{}' is not a readable .npy array: {}", opt.input.string(), e.what()));
  }
  BRENIER_CHECK(is_floating(points.dtype()) && points.dim() == 2 && points.size(1) == opt.dim,
                "push: --input '{}' must hold f32 or f64 points of shape [n, {}] (--dim {}), got {}",
                opt.input.string(), opt.dim, opt.dim, points.str());
  try {
    check_finite(points, "push", "--input");
  } catch (const Error&) {
    throw Error(fmt::format("push: --input '{}' holds a NaN or Inf", opt.input.string()));
  }
  const fs::path folder = opt.output.has_parent_path() ? opt.output.parent_path() : fs::path(".");
  BRENIER_CHECK(fs::is_directory(folder), "push: --output folder '{}' does not exist", folder.string());

  const Tensor mapped = opt.direction == "fwd" ? solver.transport(points) : solver.inverse_transport(points);
  io::save_npy(opt.output.string(), mapped.to(points.dtype()));  // atomic; the input's dtype
  return tools::kExitOk;
}

}  // namespace brenier::w2bench_tool
