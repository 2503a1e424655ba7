// The w2bench tool's parts and what they share: the options of its two commands (train-and-score,
// push), the per-dimension result, the seeded random streams and the exit codes. main.cpp parses the
// command line; run.cpp trains, checkpoints, resumes and scores; report.cpp writes results.json /
// results.md next to the paper's numbers; figure.cpp draws the PCA scatter; push.cpp applies a saved map;
// aggregate.cpp summarizes repeated runs (mean ± std).
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/random/generator.h"
#include "ot/metrics/w2bench_metrics.h"

namespace brenier::w2bench_tool {

namespace fs = std::filesystem;

// Evaluation protocol of the W2 benchmark (spec §0): 4096 fresh samples.
inline constexpr int64_t kEvalSamples = 4096;
// Pairs the constant and linear baselines are fitted on (the benchmark estimates moments on 2^14).
inline constexpr int64_t kBaselineFitSamples = int64_t{1} << 14;
// Checkpoint and metrics.jsonl record every this many steps (and at the end); each record scores the maps
// on kMonitorSamples monitoring pairs (HOTET evaluates every 500 steps too, spec §1.6).
inline constexpr int64_t kCheckpointEvery = 500;
inline constexpr int64_t kMonitorSamples = 4096;
// Points drawn in each figure.
inline constexpr int64_t kFigurePoints = 1000;
// Of those, how many get a gray T*(x) → ∇ψ(x) segment: enough to see the error field, few enough to see points.
inline constexpr int64_t kFigureErrorSegments = 150;
// Dimensions with no --dims flag, and the paper's iteration count (HOTET Table I, spec §1.6, §1.10).
inline constexpr const char* kDefaultDims = "2,4,8,16,32,64";
inline constexpr int64_t kPaperIters = 5000;
// --quick: README's main job; must finish in ~3-4 minutes on 2 cores, pre-training included. With
// 2000 MM-B steps it took 75 s on this project's 2-core machine (quiet; dims 2-16, ~18 s each), which
// leaves room for slower or busier machines. See quick_iters for the other solvers.
inline constexpr const char* kQuickDims = "2,4,8,16";
inline constexpr int64_t kQuickIters = 2000;
inline constexpr int64_t kQuickBatch = 1024;

// --quick's steps for `solver`, scaled by its step cost relative to MM-B (measured at dim 8, batch
// 1024, one thread: MM-B 34 ms, W2GN 62 ms (second order), MM/MMv2 384 ms (15 inner steps)).
inline int64_t quick_iters(const std::string& solver) {
  if (solver == "w2gn") return kQuickIters / 2;
  if (solver == "mm" || solver == "mmv2") return kQuickIters / 10;
  return kQuickIters;
}

// Training ran but at least one dimension diverged (0 = fine, 1 = internal error, 2 = usage error).
inline constexpr int kExitDiverged = 3;

struct TrainOptions {
  std::string solver = "mmb";
  std::vector<int64_t> dims;
  int64_t iters = kPaperIters;
  int64_t batch = 1024;
  uint64_t seed = 0;
  fs::path out;        // empty: runs/w2bench/<solver>/<timestamp>
  std::string shared;  // empty: BRENIER_SHARED, else ../shared
  bool resume = false;
  bool quick = false;
  bool pretrain = true;
  // s of the solvers' (s/2)‖x‖² term: 1e-4 in the benchmark's solver DenseICNN (spec §2.1); 1 + 1e-4
  // reproduces HOTET's MainDenseICNN, whose extra ½‖x‖² residual makes ∇ψ start near the identity (§1.1).
  double strong_convexity = 1e-4;
  bool cosine_decay = false;  // anneal the lr to 0 over --iters (the references keep it constant)
  bool quiet = false;
  std::string device = "cpu";  // --device: where the networks train (tools/common/device_flag.h)
};

struct PushOptions {
  fs::path run;
  int64_t dim = 0;
  std::string direction;  // "fwd" (∇ψ, μ → ν) or "inv" (∇ψ̄, ν → μ)
  fs::path input, output;
};

struct AggregateOptions {
  std::vector<fs::path> runs;  // finished run folders (each with results.json)
  fs::path out;                // empty: print only
};

// What one dimension's training and scoring produced.
struct DimResult {
  int64_t dim = 0;
  int64_t iters = 0;      // steps the scored networks were trained for
  double seconds = 0;     // training wall time, pre-training included, summed over resumed sessions
  bool diverged = false;  // training stopped on a solver error; the scores are the last checkpoint's
  std::string error;      // the solver's message when diverged
  bool resumed = false;   // continued from a checkpoint of an earlier session
  std::optional<int64_t> pretrain_iterations;  // set when pre-training ran in this session
  double pretrain_mse = 0;
  ot::MapScores scores{};
  ot::BaselineScores baselines{};
  fs::path checkpoint, figure;  // relative to the run folder; checkpoint empty when none was written
};

// Everything results.json's "config" records.
struct RunConfig {
  TrainOptions options;
  std::string shared_dir;  // as resolved
};

// A Philox stream per (seed, dimension, role), so that a dimension's numbers do not depend on which
// other dimensions run. Training draws step k's batches from offset k·2^36 of its stream, so a run
// resumed at step k sees exactly the batches of an uninterrupted one.
// Monitor: the pairs scored at every checkpoint (a training curve), kept apart from the final evaluation set.
enum class Stream : uint64_t { Training = 0, Evaluation = 1, Baseline = 2, Monitor = 3 };
Generator stream(uint64_t seed, int64_t dim, Stream role, uint64_t offset = 0);
uint64_t training_offset(int64_t step);

// --shared, else $BRENIER_SHARED, else ../shared next to the current folder or the source tree.
// Throws naming what was tried when none exists.
std::string resolve_shared_dir(const std::string& flag);

// The commands; they throw brenier::Error for bad input (main turns that into exit code 2).
int run_train(const TrainOptions& options);
int run_push(const PushOptions& options);
int run_aggregate(const AggregateOptions& options);  // aggregate.cpp

// report.cpp: config.json (and results.json's "config"): the options as run plus the protocol's
// fixed settings; results.json, results.md, and the comparison table printed at the end.
nlohmann::json config_json(const RunConfig& config);
void write_results(const fs::path& out, const RunConfig& config, const std::vector<DimResult>& results);
std::string comparison_markdown(const RunConfig& config, const std::vector<DimResult>& results);

// figure.cpp: x, T*(x) and ∇ψ(x) projected on the first two principal directions of T*(x).
void save_map_figure(const fs::path& path, const Tensor& x, const Tensor& true_map, const Tensor& fitted);

}  // namespace brenier::w2bench_tool
