// The hotet tool's parts: the options of its subcommands (gm-predict, ablation, w2b, runtime, color),
// seeded random streams, the run folder protocol (config.json, checkpoints, metrics.jsonl, --resume checks)
// and exit codes. main.cpp parses the command line; common.cpp holds the shared run-folder helpers,
// gm_world.h the §1.7 Gaussian-mixture family; gm_predict.cpp, ablation.cpp, w2b.cpp, runtime.cpp and
// color.cpp run the experiments and write results.json / results.md with the paper's numbers beside ours.
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/random/generator.h"
#include "ot/solvers/hotet.h"

namespace brenier::hotet_tool {

namespace fs = std::filesystem;

// Checkpoint and metrics.jsonl record every this many steps and at the end.
inline constexpr int64_t kCheckpointEvery = 500;
// Training ran but at least one dimension diverged (0 = fine, 1 = internal error, 2 = usage error).
inline constexpr int kExitDiverged = 3;
// The paper's iteration count (5001 in the scripts, spec §1.6).
inline constexpr int64_t kPaperIters = 5000;

// Options both subcommands share.
struct CommonOptions {
  std::vector<int64_t> dims;
  int64_t iters = kPaperIters;
  std::string method = "mmb";
  uint64_t seed = 0;
  fs::path out;
  bool resume = false;
  bool quiet = false;
  std::string device = "cpu";
  bool pretrain = true;  // identity pre-training (§1.5); with the ½‖x‖² residual it stops at once
  // Embedding (PointCloudTransformerConfig; 0 = the reference's value, §1.3).
  int64_t embed_width = 0;   // model_dim
  int64_t embed_heads = 0;   // 0: one head per channel (nhead = D)
  int64_t embed_layers = 6;  // §1.3
  // Where the hypernetworks pool a set (ot::HypernetPooling): "before" (paper §III-B) or "after-hidden" (the
  // reference code, §1.2). Transformer or points context only.
  std::string pooling = "before";
  int64_t inner_iters = 20;  // MMv2 (§1.4)
  double lr = 1e-3;          // Adam, all modules (§1.6)
  // ReLU on the generated ψ's output-layer weights too, so every generated ψ is convex (the W2 benchmark's
  // MMv2 convexify, §1.4); false = the reference code's free w_out (HotetSolverConfig::nonnegative_final_layer).
  bool convex = false;
  int64_t checkpoint_every = kCheckpointEvery;
};

struct GmOptions {
  CommonOptions common;
  int64_t batch = 0;              // 0: the per-dimension config value (batch_for_dim)
  int64_t per_step = 8;           // distributions per step (§1.6)
  int64_t train_sources = 500;    // §1.7
  int64_t test_sources = 100;     // the paper's 100 (the code has 10, §1.7)
  int64_t eval_train_sources = 100;  // training sources scored (the first ones); the reference scores all 500
  int64_t eval_samples = 1024;    // per distribution, chunks of 64 (§1.7)
  // transformer (HOTET) | constant (no embedding, Table IV ablation) | meta-ot (Meta OT baseline, §3.3) |
  // points (raw points, no trained embedding: the reference configs' emb_method mlp / mean, ot::ContextModel)
  std::string context = "transformer";
  // paired (the reference: y = T*(x)) | independent (a fresh sample of ν), see Targets in gm_world.h
  std::string targets = "paired";
};

struct W2bOptions {
  CommonOptions common;
  int64_t batch = 1024;  // §1.6
  std::string shared;    // empty: BRENIER_SHARED, else ../shared
};

// runtime (paper Table V): wall time to obtain the maps of `pairs` GM pairs, see runtime.cpp.
// common.iters = --steps; common.dims = {dim}.
struct RuntimeOptions {
  CommonOptions common;
  int64_t dim = 8;             // Table V's protocol dimension (paper appendix A-D)
  int64_t mmv2_steps = 0;      // steps of the MMv2 trainers; 0: --steps
  int64_t pairs = 500;         // distribution pairs (Table V: 500 = §1.7's training sources)
  int64_t pairs_measured = 3;  // per-pair solves actually run (their mean stands for all `pairs`)
  int64_t batch = 0;           // 0: batch_for_dim (§1.6)
  int64_t per_step = 8;        // distributions per HOTET step (§1.6)
  int64_t predict_repeats = 20;  // timings of a new distribution's map (the median is reported)
  std::vector<std::string> trainers{"hotet-mmb", "meta-ot", "hotet-mmv2", "mmb", "mmv2"};
};

// color: color transfer on photographs (paper §IV-D), see color.cpp. common.iters = --steps; dims = {3}.
struct ColorOptions {
  CommonOptions common;
  std::vector<std::string> images;  // sources; empty: ../shared/data/images/china.jpg
  std::string reference;            // empty: ../shared/data/images/flower.jpg
  std::vector<std::string> unseen;  // in-context images; empty: derived from the first source (see color.cpp)
  std::string shared;               // shared folder (default: $BRENIER_SHARED, else ../shared)
  int64_t batch = 1024;             // pixels per image per step (§1.6)
  int64_t per_step = 8;             // images per many-to-one step (§1.6), at most the number of sources
  int64_t min_sources = 4;          // many-to-one sources (crops added when fewer images are given)
  int64_t finetune_steps = 50;      // in-context fine-tuning (paper §IV-D: 50; the code: 10, §1.6)
  int64_t eval_points = 1000;       // pixels per side of each exact-W2 score (Hungarian, O(n³))
  int64_t max_side = 0;             // resize images so the longer side is at most this (0: keep)
};

// A training step failed (non-finite loss or gradient; the solver is as after its last good step). runtime and
// color catch it and exit with kExitDiverged instead of the usage-error code a brenier::Error would give.
struct TrainingDiverged : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// GM prediction batch per dimension, from HOTET's configs (spec §1.6): 256 (D ≤ 4), 128 (D ≤ 16), 64.
int64_t batch_for_dim(int64_t dim);

// Philox stream per (seed, dim, role); training step k draws from offset k·2^36 of its stream, so a
// resumed run sees exactly the batches of an uninterrupted one.
enum class Stream : uint64_t { World = 0, Training = 1, Evaluation = 2, Pretrain = 3, Monitor = 4, PairSolve = 5 };
Generator stream(uint64_t seed, int64_t dim, Stream role, uint64_t offset = 0);
uint64_t training_offset(int64_t step);

// Checks --device (cuda: a CUDA build and a GPU here), dims, iters, --resume's --out.
void validate_common(const CommonOptions& opt);
// A fresh run needs a folder without config.json; --resume one whose config matches on `keys`.
void prepare_run_folder(const CommonOptions& opt, const fs::path& out, const nlohmann::json& options_json,
                        const std::vector<std::string>& keys, const char* experiment);
// The cumulative seconds metrics.jsonl recorded for `dim` at `step` (0 when none).
double recorded_seconds(const fs::path& metrics, int64_t dim, int64_t step);
fs::path checkpoint_path(const fs::path& out, int64_t dim);
nlohmann::json common_json(const CommonOptions& opt);

// The solver configuration both experiments start from.
ot::HotetSolverConfig base_solver_config(const CommonOptions& opt, int64_t dim);

int run_gm_predict(const GmOptions& options);
// The four context models of gm-predict side by side (paper Tables III, IV); see ablation.cpp.
int run_ablation(const GmOptions& options);
int run_w2b(const W2bOptions& options);
int run_runtime(const RuntimeOptions& options);
int run_color(const ColorOptions& options);

}  // namespace brenier::hotet_tool
