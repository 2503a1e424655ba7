// The hotet tool's parts: the options of its subcommands (gm-predict, w2b), seeded random streams,
// the run folder protocol (config.json, checkpoints, metrics.jsonl, --resume checks) and exit codes.
// main.cpp parses the command line; common.cpp holds the shared run-folder helpers; gm_predict.cpp
// and w2b.cpp train, score and write results.json / results.md with the paper's numbers beside ours.
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
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
  int64_t inner_iters = 20;  // MMv2 (§1.4)
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
  // transformer (HOTET) | constant (no embedding, Table IV ablation) | meta-ot (Meta OT baseline, §3.3)
  std::string context = "transformer";
};

struct W2bOptions {
  CommonOptions common;
  int64_t batch = 1024;  // §1.6
  std::string shared;    // empty: BRENIER_SHARED, else ../shared
};

// GM prediction batch per dimension, from HOTET's configs (spec §1.6): 256 (D ≤ 4), 128 (D ≤ 16), 64.
int64_t batch_for_dim(int64_t dim);

// Philox stream per (seed, dim, role); training step k draws from offset k·2^36 of its stream, so a
// resumed run sees exactly the batches of an uninterrupted one.
enum class Stream : uint64_t { World = 0, Training = 1, Evaluation = 2, Pretrain = 3, Monitor = 4 };
Generator stream(uint64_t seed, int64_t dim, Stream role, uint64_t offset = 0);
uint64_t training_offset(int64_t step);

// Checks --device (cuda: a clear error until the GPU backend lands), dims, iters, --resume's --out.
void validate_common(const CommonOptions& opt, const char* experiment);
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
// The three context models of gm-predict side by side (paper Tables III, IV); see ablation.cpp.
int run_ablation(const GmOptions& options);
int run_w2b(const W2bOptions& options);

}  // namespace brenier::hotet_tool
