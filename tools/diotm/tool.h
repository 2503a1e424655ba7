// The diotm tool's parts: options of its subcommands (gaussian, toy, lambda, translate), seeded random streams, the
// run-folder protocol (config.json, checkpoints, metrics.jsonl, --resume checks), one training "unit"
// (a DiotmSolver trained with checkpoints, divergence caught) and exit codes. main.cpp parses the command
// line; common.cpp holds the shared helpers and the unit runner; gaussian.cpp, w2bench_pairs.cpp (gaussian
// --problem w2bench), toy.cpp (toy and lambda) and translate.cpp train, score and write results.json / results.md.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/random/generator.h"
#include "ot/solvers/diotm.h"
#include "tools/common/feature_fid.h"

namespace brenier::diotm_tool {

namespace fs = std::filesystem;

// Training ran but at least one unit diverged (0 = fine, 1 = internal error, 2 = usage error).
inline constexpr int kExitDiverged = 3;

// Options every subcommand shares (solver hyper-parameters; defaults are DiotmConfig's, spec §4.2–4.3).
struct CommonOptions {
  int64_t iters = 0;  // 0: the subcommand's default
  int64_t batch = 0;  // 0: the subcommand's default
  double alpha = 0.5;
  std::string regularizer = "hjb";
  std::string hjb_norm = "abs";
  double reg_weight = 0.1;
  int64_t potential_steps = 1, map_steps = 1;
  double map_lr = 1.6e-4, potential_lr = 1e-4;
  int64_t checkpoint_every = 500;
  uint64_t seed = 0;
  fs::path out;
  bool resume = false;
  bool quiet = false;
  std::string device = "cpu";
};

struct GaussianOptions {
  CommonOptions common;
  std::vector<int64_t> dims;
  int64_t eval_samples = 4096;  // spec §0
  // gaussian: random Gaussian pairs vs the Bures map; w2bench: the W2 benchmark's Mix3toMix10 pairs vs ∇ψ.
  std::string problem = "gaussian";
  std::string shared;  // w2bench: the folder holding data/w2bench (empty: $BRENIER_SHARED, else ../shared)
};

struct ToyOptions {
  CommonOptions common;
  std::vector<std::string> datasets;   // 8g, 25g, moon-spiral, circles
  std::vector<std::string> variants;   // hjb, r1, none (toy only)
  std::vector<double> lambdas;         // lambda only
  int64_t eval_samples = 1000;         // n of the exact W2 (Hungarian, ~1 s at 1000)
};

struct TranslateOptions {
  CommonOptions common;
  std::string from = "sneaker", to = "ankle boot";  // Fashion-MNIST classes (index or name)
  int64_t channels = 8;             // base channels of the conv map and potential (ours, CPU-sized)
  int64_t train_images = -1;        // per class; -1: all 6000
  int64_t eval_images = 1000;       // test images per class (all of them)
  int64_t classifier_images = 20000;  // training images of the FID classifier (feature_fid.h's default budget)
  int64_t classifier_epochs = 2;
  fs::path classifier = tools::kDefaultFeatureClassifierCache;  // FID classifier cache, shared with otnet generate
  fs::path data;        // Fashion-MNIST folder (default: the Debian package's)
};

// Philox stream per (seed, unit, role); training step k draws from offset k·2^36 of its stream, so a
// resumed run sees exactly the batches of an uninterrupted one.
enum class Stream : uint64_t { Problem = 0, Training = 1, Evaluation = 2, Figure = 3 };
Generator stream(uint64_t seed, uint64_t unit, Stream role, uint64_t offset = 0);
uint64_t training_offset(int64_t step);
// A stable number for a unit name ("dim8", "8g/hjb"), so streams do not depend on which units run.
uint64_t unit_id(const std::string& name);

// Checks --device (cuda: needs a CUDA build and a GPU, tools/common/device_flag.h), iters, batch, the solver options,
// and --resume's --out.
void validate_common(const CommonOptions& opt);
// A fresh run needs a folder without config.json; --resume one whose config matches on `keys`.
void prepare_run_folder(const CommonOptions& opt, const fs::path& out, const nlohmann::json& options_json,
                        const std::vector<std::string>& keys, const char* experiment);
nlohmann::json common_json(const CommonOptions& opt);
// The DiotmConfig of these options (spec defaults for everything the options do not set).
ot::DiotmConfig solver_config(const CommonOptions& opt, int64_t dim);
// Markdown lines documenting the solver's choices (time sampling, λ, residual norm, α, lrs, widths).
// `regularizers` replaces the regularizer phrase where one run trains several (toy: "hjb / r1 / none").
std::string choices_markdown(const CommonOptions& opt, const ot::DiotmConfig& config,
                             const std::string& regularizers = "");

// One trained solver: a dimension of `gaussian`, a (dataset, variant) of `toy`, a λ of `lambda`.
struct Unit {
  std::string name;             // checkpoint file stem and metrics key
  ot::DiotmConfig config;
  // n points [n, dim] drawn from `gen` (the runner passes step k's training stream).
  std::function<Tensor(int64_t n, Generator& gen)> source, target;
};

struct UnitResult {
  std::unique_ptr<ot::DiotmSolver> solver;  // the trained one, or the last good checkpoint; null if none
  int64_t iters = 0;
  double seconds = 0;
  double seconds_per_step = 0;
  bool diverged = false, resumed = false;
  std::string error;
};

// Trains `unit` for `iters` steps with checkpoints every opt.checkpoint_every steps (and at the end) in
// out/checkpoints/<name>.safetensors and records in out/metrics.jsonl; with --resume continues from the
// checkpoint. A brenier::Error from the solver is caught and reported (diverged = true, the last good
// checkpoint loaded); other errors propagate.
UnitResult train_unit(const CommonOptions& opt, int64_t iters, Unit& unit, const fs::path& out);

int run_gaussian(const GaussianOptions& options);
// `gaussian --problem w2bench` (w2bench_pairs.cpp); run_gaussian calls it after checking the shared options.
int run_w2bench_pairs(const GaussianOptions& options);
int run_toy(const ToyOptions& options);
int run_lambda(const ToyOptions& options);
int run_translate(const TranslateOptions& options);

}  // namespace brenier::diotm_tool
