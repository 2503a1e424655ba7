// The nctm tool's parts: options of its subcommands (gaussian, ablation, toy2d, sensitivity), the
// conditional Gaussian family with known per-condition OT maps, seeded random streams, the run-folder
// protocol (config.json, checkpoints, metrics.jsonl, --resume checks), one training routine with
// checkpoints every subcommand uses, and the "train and score" routine of gaussian / ablation.
// main.cpp parses the command line; common.cpp holds the run-folder helpers and the training routines;
// gaussian.cpp, ablation.cpp, toy2d.cpp and sensitivity.cpp write results.json / results.md.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/random/generator.h"
#include "ot/samplers/gaussian.h"
#include "ot/solvers/nctm.h"

namespace brenier::nctm_tool {

namespace fs = std::filesystem;

// Training ran but a run diverged (0 = fine, 1 = internal error, 2 = usage error).
inline constexpr int kExitDiverged = 3;
// kExitDiverged (saying so on stderr) when a run diverged, else 0.
int exit_code(bool diverged);

struct CommonOptions {
  std::vector<int64_t> dims;
  int64_t iters = 2000;          // alternating steps (each K_T map updates + 1 critic update); ours
  int64_t pretrain_steps = 500;  // identity pre-training of T (§5.2: >= 500)
  int64_t warmup_steps = 100;    // critic warm-up (ours; §5.2 gives no number)
  int64_t batch = 256;           // ours (the bench step of issue 8 uses 256)
  int64_t map_steps = 5;         // K_T (§5.2: 4–6)
  double map_lr = 1e-4;          // §5.1
  double critic_lr = 1e-4;       // §5.1
  double critic_magnitude = 0.1;  // warm-up magnitude penalty (ours; ot/solvers/nctm.h says why)
  double weight_decay = 0.03;    // §5.2
  int64_t width = 64;            // ours (conditional_network.h)
  std::string conditioning = "hypernet";  // §5.2
  std::string encoding = "positional";    // §5.2
  // p' = position_scale · s inside the positional encoding (ot/layers/condition_encoder.h says why).
  double position_scale = ot::ConditionEncoderConfig{}.position_scale;
  bool shared_encoder = false;            // §5.2: separate
  // Cost of T (§5.1; ot/solvers/nctm.h): "strong", E_z ‖x − T(x, z, c)‖²/D, or "weak", minus γ·Var_z T/D.
  // main.cpp gives --cost weak the defaults of NOT's 2-D toy (§5.1): z dim 2 and γ = 1 (its cost is
  // ‖x − E_z T‖², the γ = 1 weak cost), unless --noise-dim / --gamma are given.
  std::string cost = "strong";
  int64_t noise_dim = 0;       // strong: 0, a deterministic T(x, c) (NOT's default, §5.1); weak: 2 (§5.1)
  double noise_std = 0.1;      // Z_STD (§5.1)
  int64_t noise_samples = 4;   // Z_SIZE (§5.1)
  double gamma = 0.0;          // strong: 0; weak: 1 (§5.1)
  int64_t classes = 3;           // K discrete classes of the condition
  int64_t eval_samples = 1024;   // source points per scored condition
  uint64_t seed = 0;
  fs::path out;
  bool resume = false;
  bool quiet = false;
  std::string device = "cpu";
  int64_t checkpoint_every = 250;
};

struct AblationOptions {
  CommonOptions common;        // dims holds exactly one dimension
  std::vector<uint64_t> seeds;  // --seeds: each variant once per seed; empty = {common.seed} (one run, as before)
};

// toy2d: NOT's 2-D sanity checks, unconditional and then rotated (class k → angle πk/K) and scaled
// (s → 0.5 + s) by a condition (toy2d.cpp).
struct Toy2dOptions {
  CommonOptions common;  // dims = {2}; classes = K; eval_samples = n per condition (exact W2; ours: 512, issue 8)
  std::vector<std::string> datasets;  // "swiss-roll", "8g"
};

// sensitivity: OT sensitivity indices of the Ishigami function by exact OT on samples and by one NCTM
// map per continuous-encoding variant (sensitivity.cpp).
struct SensitivityOptions {
  CommonOptions common;  // dims = {1}; eval_samples = P_Y points per scored condition (ours: 4096)
  std::vector<std::string> encodings;    // continuous encodings to train, e.g. positional, scalar
  int64_t grid = 16;        // conditioning values x_i per input (midpoint rule on (−π, π)); ours
  int64_t samples = 16384;  // points per measure of the exact-OT estimator; ours (index error ≲ 0.004, tested)
};

// The conditional family of `gaussian`: c = (k ∈ {0..K−1}, s ∈ [0, 1]), target
//   ν(k, s) = N(m(k, s), Σ(k, s)),  m = 2 (cos φ a_k + sin φ b_k),  φ = 2πk/K + (π/2) s,
//   Σ = Q_k diag(λ(s)) Q_kᵀ,  log λ_i(s) = (1 − s) log λ⁰_{k,i} + s log λ¹_{k,i},  λ ∈ [0.25, 2.25],
// with (a_k, b_k) orthonormal and Q_k orthogonal, all Haar-random per class from the seed. Source N(0, I);
// the ground truth per condition is the Bures map x ↦ m + Σ^{1/2} x.
class GaussianFamily {
 public:
  GaussianFamily(int64_t dim, int64_t classes, Generator& gen);
  ot::Gaussian target(int64_t k, double s) const;
  int64_t dim() const { return dim_; }
  int64_t classes() const { return classes_; }

 private:
  int64_t dim_, classes_;
  std::vector<Tensor> a_, b_, q_;                    // f64 [D], [D], [D, D]
  std::vector<std::vector<double>> log_l0_, log_l1_;
};

// s values: training grid 0, 1/8, …, 6/8; unseen between them (midpoints); beyond them 7/8 and 1.
std::vector<double> seen_s();
std::vector<double> between_s();
std::vector<double> beyond_s();

enum class Stream : uint64_t { World = 0, Training = 1, Evaluation = 2 };
Generator stream(uint64_t seed, int64_t dim, Stream role, uint64_t offset = 0);

// Throws naming the flag for any bad option; dimensions must be >= min_dim. --device cuda[:i] needs a CUDA
// build and that GPU here (tools/common/device_flag.h).
void validate_common(const CommonOptions& opt, int64_t min_dim = 2);
void prepare_run_folder(const CommonOptions& opt, const fs::path& out, const nlohmann::json& options_json,
                        const std::vector<std::string>& keys, const char* experiment,
                        const nlohmann::json& added_options = nlohmann::json::object());
nlohmann::json common_json(const CommonOptions& opt);
ot::NctmSolverConfig solver_config(const CommonOptions& opt, int64_t dim);

// Scores of one trained map on a set of conditions: mean L2-UVP (%) over them, and the identity's.
struct Scores {
  double l2uvp = 0, identity = 0;
  int64_t conditions = 0;
  nlohmann::json json() const;
};

// One training run (`label` names it in metrics.jsonl and progress) with its checkpoint, then scores.
struct RunResult {
  std::string label;
  int64_t dim = 0, steps = 0;
  double seconds = 0;
  bool diverged = false, resumed = false, scored = false;
  std::string error;
  Scores seen, unseen, beyond;
  nlohmann::json json() const;
};
// One training run with checkpoints, progress, metrics.jsonl records and --resume: `draw` returns a
// batch from the per-step generator (the stream of (seed, stream_key, step), so a resumed run sees the
// batches of an uninterrupted one). On a failure the last checkpoint is loaded (solver null without one).
using BatchDraw = std::function<ot::NctmBatch(Generator&)>;
struct TrainedRun {
  std::unique_ptr<ot::NctmSolver> solver;
  int64_t steps = 0;
  double seconds = 0;
  bool diverged = false, resumed = false;
  std::string error;
};
TrainedRun train_run(const CommonOptions& opt, const ot::NctmSolverConfig& config, int64_t stream_key,
                     const std::string& label, const fs::path& out, const BatchDraw& draw);

RunResult train_and_score(const CommonOptions& opt, const ot::NctmSolverConfig& config, int64_t dim,
                          const std::string& label, const fs::path& out);

int run_gaussian(const CommonOptions& options);
int run_ablation(const AblationOptions& options);
int run_toy2d(const Toy2dOptions& options);
int run_sensitivity(const SensitivityOptions& options);

}  // namespace brenier::nctm_tool
