// The otnet tool's parts (OT-Net, Li et al., "A Reusable Neural Optimal Transport Solver"; spec/algorithms.md
// §6): the options of its subcommands (toy, reuse, domain, color, generate), the shared run-folder protocol,
// seeded random streams, the 2-D toy data sets, and the solver configurations they start from. main.cpp
// parses the command line; common.cpp holds the shared helpers; checkpointed_solve.cpp runs the solves with
// checkpoints, --resume and a clean stop on Ctrl-C / SIGTERM; toy.cpp, reuse.cpp, domain.cpp, color.cpp and
// generate.cpp (with conv_autoencoder.h) run one experiment each and write results.json / results.md with the
// paper's numbers beside ours.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/random/generator.h"
#include "ot/solvers/height_network_solver.h"
#include "ot/solvers/semi_discrete_solver.h"
#include "tools/common/feature_fid.h"

namespace brenier::otnet_tool {

namespace fs = std::filesystem;

// A solver failed numerically (non-finite heights or gradients); 0 = fine, 1 = internal, 2 = bad input.
inline constexpr int kExitDiverged = 3;

// Options every subcommand takes.
struct CommonOptions {
  uint64_t seed = 0;
  fs::path out;               // empty: runs/otnet/<experiment>/<timestamp>
  bool quiet = false;
  std::string device = "cpu";
  std::vector<int64_t> hidden = {512, 512, 512};  // H_Φ widths (Table A3, spec §6.3)
  int64_t fourier_features = 128;  // H_Φ's input features (ours; 0 = raw y, Table A3); see height_network_features.h
  bool hidden_given = false;  // --hidden was on the command line (color widens the last layer otherwise)
  bool fourier_features_given = false;  // --fourier-features was on the command line (color's default is 0)
  double lr = 0;              // 0: the subcommand's default
  double tolerance = 0;       // δ; 0: the subcommand's default
  int64_t max_iter = 0;       // 0: the subcommand's default
  bool resume = false;        // continue the run in `out` from its checkpoints
  int64_t checkpoint_every = 100;  // solver steps between checkpoints of an unfinished solve; 0: only at stops
};

struct ToyOptions {
  CommonOptions common;
  std::string dataset = "grid";
  std::vector<double> ratios = {0.9};
  int64_t targets = 250;        // n: samples of the data set (ours; pyOMT's toy demos use 256, §6.1)
  int64_t samples = 2500;       // generated samples scored (ours, PacGAN-sized)
  int64_t mode_min = 20;        // high-quality samples a mode needs to count as captured (ours)
  double angle = 0;             // angle threshold (radians); 0: the data set's default
  bool baseline = true;         // also run the free-height (AE-OT) solver on all targets
  double baseline_lr = 0;       // 0: the data set's default
};

struct ReuseOptions {
  CommonOptions common;
  std::string dataset = "grid";
  std::vector<double> ratios = {0.7, 0.75, 0.8, 0.85, 0.9, 0.95};
  int64_t targets = 250;
  double baseline_lr = 0;
  double baseline_tolerance = 0;
};

struct DomainOptions {
  CommonOptions common;
  std::vector<double> ratios = {1.0, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95};
  std::string shared;
};

struct ColorOptions {
  CommonOptions common;
  std::string source_image, target_image;  // empty: ../shared/data/images/china.jpg, flower.jpg
  std::string shared;
  int64_t size = 512;       // the square crop's side after resizing (paper: 512×512)
  int64_t pixels = 500;     // n = N (paper §4.2)
  // What OT-Net's steps after the warm start change: "output-layer" (ours; HeightNetworkUpdate::output_layer)
  // or "all" (Adam on all of H_Φ, Algorithm 1).
  std::string update = "output-layer";
};

struct GenerateOptions {
  CommonOptions common;
  std::filesystem::path data;            // IDX folder; empty: /usr/share/datasets/fashion-mnist
  std::filesystem::path classifier = tools::kDefaultFeatureClassifierCache;  // FID classifier cache (shared)
  int64_t train_images = 10000;          // autoencoder's training subset (ours; paper: all 60,000)
  int64_t test_images = 10000;           // FID reference set: the whole test split
  int64_t classifier_images = 20000;     // FID classifier's training subset (ours)
  int64_t classifier_epochs = 2;         // ours
  int64_t ae_epochs = 10;                // ours (the paper trains to convergence; AE-OT demo2 up to 500)
  int64_t ae_batch = 128;                // ours (paper: 512; smaller batches give more steps on a subset)
  double ae_lr = 1e-3;                   // ours (paper: 2e-4 with batch 512 for many more epochs)
  int64_t ae_width = 16;                 // "dim" of Tables A1–A2, not given by the paper
  int64_t latent = 64;                   // ours (paper: 100)
  int64_t targets = 2000;                // n codes the OT maps onto (ours; paper: all 60,000)
  // Training ratios r of H_Φ (§4.1.3): the paper's Fig. 8–9 ratios, four of Table 4's seven rows (1, 0.95, …,
  // 0.7), to fit a CPU budget (ours).
  std::vector<double> ratios = {1.0, 0.9, 0.8, 0.7};
  int64_t samples = 2000;                // m samples per FID row and most new codes kept (ours)
  double angle = 0.7;                    // angle threshold, radians (demo2 for latent codes, §6.2)
  bool baseline = true;                  // also solve with free heights (AE-OT) for Table 4
  double baseline_lr = 0;                // 0: 5e-2 (pyOMT's latent setting, §6.1)
};

// --- random streams -----------------------------------------------------------------------------------
enum class Stream : uint64_t { Data = 0, Split = 1, Solver = 2, Generate = 3, Pixels = 4, Autoencoder = 5 };
// One Philox stream per (seed, role, index), apart from other tools' streams.
Generator stream(uint64_t seed, Stream role, uint64_t index = 0);
// The solvers take a plain seed: derived the same way, so each (seed, role, index) gives its own solve.
uint64_t solver_seed(uint64_t seed, uint64_t index);
// The solvers run on --device and answer there; the experiments score, plot and decode on the host.
inline Tensor on_host(const Tensor& t) { return t.to(Device::cpu()); }
// The height-network solver's settings every experiment uses: --hidden, the step size, tolerance and step
// budget, Monte Carlo sampling `mc`, and the seed of solve number `index`.
ot::HeightNetworkSolverConfig network_config(const CommonOptions& common, double lr, double tolerance,
                                             int64_t max_iter, uint64_t index, const ot::MonteCarloConfig& mc);
// The free-height (AE-OT) solver's settings, likewise.
ot::FreeHeightSolverConfig free_height_config(const CommonOptions& common, double lr, double tolerance,
                                              int64_t max_iter, uint64_t index, const ot::MonteCarloConfig& mc);

// --- run folder ---------------------------------------------------------------------------------------
// Checks --device (cpu, cuda or cuda:<i>; tools/common/device_flag.h), hidden widths, lr,
// tolerance, max_iter (0 = default), --checkpoint-every and that --resume has an --out.
void validate_common(const CommonOptions& opt);
// Checks each ratio is in (0, 1] and listed once; `flag` names the option in messages.
void validate_ratios(const std::vector<double>& ratios, const char* flag);
// Creates the run folder with checkpoints/ and figures/ and writes config.json. A fresh run refuses a folder
// that already holds one; --resume accepts only an otnet run of `experiment` whose recorded options equal
// `options` on `keys` (those that shape the solves), tools/common/run_folder.h.
fs::path prepare_run_folder(const CommonOptions& opt, const std::string& experiment, const nlohmann::json& options,
                            const std::vector<std::string>& keys);
nlohmann::json common_json(const CommonOptions& opt);
std::vector<double> parse_ratio_list(const std::string& text, const char* flag);

// --- toy data sets (spec §6.4) -------------------------------------------------------------------------
struct ToyDataset {
  std::string name;
  std::vector<double> modes;  // flat (x, y) centres
  double sigma = 0;           // per-coordinate standard deviation
  double source_std = 0;      // the normal source N(0, source_std² I): RMS of the centres' coordinates (ours)
  double angle = 0;           // default angle threshold for the piecewise-linear extension (ours, see toy.cpp)
  double baseline_lr = 0;     // free-height solver's Adam lr (ours, scaled to the heights' spread)
};
ToyDataset toy_dataset(const std::string& name);
// n samples, modes assigned round-robin (balanced: ⌊n/K⌋ or ⌈n/K⌉ per mode) and then shuffled: f32 [n, 2].
Tensor sample_toy(const ToyDataset& data, int64_t n, Generator& gen);

// --- solving ------------------------------------------------------------------------------------------
// Index sets of a random split: the first ⌈r·n⌉ of a permutation train, the rest are held out.
struct Split {
  std::vector<int64_t> train, held_out;
};
Split random_split(int64_t n, double ratio, Generator& gen);
Tensor select_rows(const Tensor& points, const std::vector<int64_t>& index);
// ‖(a − ā) − (b − b̄)‖ / ‖b − b̄‖ over the entries `index`, both centred over `index` (heights are defined up
// to a constant): how far heights `a` are from reference heights `b` (reuse, generate --ratios).
double centred_relative_error(const std::vector<double>& a, const std::vector<double>& b,
                              const std::vector<int64_t>& index);

// A solver failed numerically (a brenier::Error thrown inside solve()): exit 3.
struct DivergedError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Summary of one solve, as results.json records it.
nlohmann::json solve_json(const ot::SemiDiscreteSolveResult& r, double eval_grad_norm, int64_t steps);

// solve_json of a height-network solve plus H_Φ's input: "input_features" = the Fourier features it reads
// (0: raw y, either by --fourier-features 0 or because the training targets are not clustered).
nlohmann::json network_solve_json(const ot::HeightNetworkSolver& solver, const ot::HeightNetworkSolveResult& r);

// --- checkpointed solves (checkpointed_solve.cpp) -------------------------------------------------------
// Where a run keeps its solves: DIR/checkpoints/<name>.safetensors holds one solver's state (its save()) with
// metadata "run.status": "running" (written every `every` steps and when Ctrl-C / SIGTERM asks to stop) or
// "done" (the finished solve, with its result). With `resume` a done solve is loaded instead of run again and a
// running one continues from its step to the same end as an uninterrupted solve (the solvers' checkpoints carry
// the generator, Adam and the adaptive Monte Carlo); its seconds add up over the sessions.
struct SolveCheckpoints {
  fs::path dir;          // empty: no checkpoints (a stop request then ends the run without saving)
  bool resume = false;
  int64_t every = 100;   // steps between checkpoints of a running solve; 0: only when stopping and at the end
};
SolveCheckpoints solve_checkpoints(const CommonOptions& opt, const fs::path& out);  // DIR/checkpoints
// "<stem>_r<ratio>" with the ratio's shortest round-trip form ("otnet_r0.9"), so two ratios never share a file.
std::string ratio_checkpoint_name(const std::string& stem, double ratio);

// Runs (or on --resume loads or continues) the solve `name` with a progress line. Numerical failures become
// DivergedError naming the last checkpoint kept; a stop request saves the state and throws tools::Stopped.
// result.iterations is the solver's step count, result.seconds the solve's wall time over all sessions.
ot::HeightNetworkSolveResult solve_network(ot::HeightNetworkSolver& solver, const ot::SourceSampler& source,
                                           const std::string& label, bool quiet, const SolveCheckpoints& checkpoints,
                                           const std::string& name);
ot::SemiDiscreteSolveResult solve_free(ot::FreeHeightSolver& solver, const ot::SourceSampler& source,
                                       const std::string& label, bool quiet, const SolveCheckpoints& checkpoints,
                                       const std::string& name);

int run_toy(const ToyOptions& options);
int run_reuse(const ReuseOptions& options);
int run_domain(const DomainOptions& options);
int run_color(const ColorOptions& options);
void validate_generate(const GenerateOptions& options);
int run_generate(const GenerateOptions& options);

}  // namespace brenier::otnet_tool
