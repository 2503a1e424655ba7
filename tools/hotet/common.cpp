// The hotet tool's shared run-folder protocol: random streams, option checks, --resume checks,
// checkpoint paths and the solver configuration both experiments start from (see tool.h).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "tools/common/device_flag.h"
#include "tools/common/seed_mix.h"
#include "tools/common/run_folder.h"
#include "tools/hotet/tool.h"

namespace brenier::hotet_tool {
namespace {

using tools::mix;  // tools/common/seed_mix.h

}  // namespace

int64_t batch_for_dim(int64_t dim) {
  if (dim <= 4) return 256;
  if (dim <= 16) return 128;
  return 64;
}

Generator stream(uint64_t seed, int64_t dim, Stream role, uint64_t offset) {
  Generator gen(seed);
  // The tag keeps these streams apart from other tools' streams of the same (seed, dim, role).
  gen.set_state(mix(seed ^ mix((static_cast<uint64_t>(dim) << 8) | static_cast<uint64_t>(role) | (0x407ULL << 40))),
                offset);
  return gen;
}

uint64_t training_offset(int64_t step) { return static_cast<uint64_t>(step) << 36; }

void validate_common(const CommonOptions& opt) {
  tools::parse_device_flag(opt.device);  // cuda needs a CUDA build and a GPU here
  BRENIER_CHECK(!opt.dims.empty(), "--dims: give at least one dimension");
  for (size_t i = 0; i < opt.dims.size(); ++i) {
    BRENIER_CHECK(opt.dims[i] >= 1, "--dims: dimensions must be >= 1, got {}", opt.dims[i]);
    BRENIER_CHECK(std::find(opt.dims.begin(), opt.dims.begin() + static_cast<std::ptrdiff_t>(i), opt.dims[i]) ==
                      opt.dims.begin() + static_cast<std::ptrdiff_t>(i),
                  "--dims: dimension {} is listed twice", opt.dims[i]);
  }
  BRENIER_CHECK(opt.iters >= 1, "--iters: must be >= 1, got {}", opt.iters);
  BRENIER_CHECK(opt.checkpoint_every >= 1, "--checkpoint-every: must be >= 1, got {}", opt.checkpoint_every);
  BRENIER_CHECK(opt.inner_iters >= 1, "--inner-iters: must be >= 1, got {}", opt.inner_iters);
  BRENIER_CHECK(std::isfinite(opt.lr) && opt.lr > 0, "--lr: must be a positive number, got {}", opt.lr);
  BRENIER_CHECK(opt.embed_layers >= 1, "--embed-layers: must be >= 1, got {}", opt.embed_layers);
  BRENIER_CHECK(opt.embed_width >= 0, "--embed-width: must be >= 0 (0: the points' dimension), got {}",
                opt.embed_width);
  BRENIER_CHECK(opt.embed_heads >= 0, "--embed-heads: must be >= 0 (0: one head per channel), got {}",
                opt.embed_heads);
  for (int64_t d : opt.dims) {
    const int64_t width = opt.embed_width > 0 ? opt.embed_width : d;
    BRENIER_CHECK(opt.embed_heads == 0 || width % opt.embed_heads == 0,
                  "--embed-heads: {} does not divide the embedding width {} (dim {})", opt.embed_heads, width, d);
  }
  try {
    ot::parse_hypernet_pooling(opt.pooling);
  } catch (const Error&) {
    throw Error(fmt::format("--pooling: must be before or after-hidden, got '{}'", opt.pooling));
  }
  BRENIER_CHECK(!opt.resume || !opt.out.empty(), "--resume: needs --out, the folder of the run to continue");
}

void prepare_run_folder(const CommonOptions& opt, const fs::path& out, const nlohmann::json& options_json,
                        const std::vector<std::string>& keys, const char* experiment) {
  // "pooling", "lr", "convex" and "targets" came after the first runs; those pooled before the hypernetwork,
  // used Adam's lr 1e-3, a free w_out and paired targets.
  tools::prepare_run_folder("hotet", experiment, out, opt.resume, options_json, keys, {"checkpoints"},
                            {{"pooling", "before"}, {"lr", 1e-3}, {"convex", false}, {"targets", "paired"}});
}

double recorded_seconds(const fs::path& metrics, int64_t dim, int64_t step) {
  std::ifstream in(metrics);
  double seconds = 0;
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!record.is_object() || record.value("dim", int64_t{-1}) != dim || record.value("step", int64_t{-1}) != step ||
        !record.contains("elapsed") || !record["elapsed"].is_number() || record.value("event", "") == "diverged")
      continue;
    seconds = record["elapsed"].get<double>();
  }
  return seconds;
}

fs::path checkpoint_path(const fs::path& out, int64_t dim) {
  return out / "checkpoints" / fmt::format("dim{}.safetensors", dim);
}

nlohmann::json common_json(const CommonOptions& opt) {
  return {{"dims", opt.dims},
          {"iters", opt.iters},
          {"method", opt.method},
          {"seed", opt.seed},
          {"device", opt.device},
          {"pretrain", opt.pretrain},
          {"embed_width", opt.embed_width},
          {"embed_heads", opt.embed_heads},
          {"embed_layers", opt.embed_layers},
          {"pooling", opt.pooling},
          {"inner_iters", opt.inner_iters},
          {"lr", opt.lr},
          {"convex", opt.convex}};
}

ot::HotetSolverConfig base_solver_config(const CommonOptions& opt, int64_t dim) {
  ot::HotetSolverConfig c;
  c.method = ot::parse_hotet_method(opt.method);
  c.dim = dim;
  c.embedding.model_dim = opt.embed_width;
  c.embedding.num_heads = opt.embed_heads;
  c.embedding.num_layers = opt.embed_layers;
  c.pooling = ot::parse_hypernet_pooling(opt.pooling);
  c.inner_iters = opt.inner_iters;
  c.lr = opt.lr;
  c.nonnegative_final_layer = opt.convex;
  c.seed = opt.seed;
  c.device = tools::parse_device_flag(opt.device);
  return c;
}

}  // namespace brenier::hotet_tool
