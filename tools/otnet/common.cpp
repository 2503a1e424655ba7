// The otnet tool's shared helpers (see tool.h): random streams, option checks, the run folder, the toy
// data sets of spec §6.4, random target splits, and solves wrapped with a progress line.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numbers>

#include "engine/ops/ops.h"
#include "tools/common/seed_mix.h"
#include "tools/common/cli.h"
#include "tools/common/device_flag.h"
#include "tools/common/results.h"
#include "tools/common/run_folder.h"
#include "tools/otnet/tool.h"

namespace brenier::otnet_tool {
namespace {

using tools::mix;  // tools/common/seed_mix.h

// The tag keeps otnet's streams apart from other tools' streams of the same seed.
constexpr uint64_t kTag = 0x07E7ULL << 44;

}  // namespace

Generator stream(uint64_t seed, Stream role, uint64_t index) {
  Generator gen(seed);
  gen.set_state(mix(seed ^ mix(kTag | (static_cast<uint64_t>(role) << 32) | index)), 0);
  return gen;
}

uint64_t solver_seed(uint64_t seed, uint64_t index) {
  return mix(seed ^ mix(kTag | (static_cast<uint64_t>(Stream::Solver) << 32) | index));
}

ot::HeightNetworkSolverConfig network_config(const CommonOptions& common, double lr, double tolerance,
                                             int64_t max_iter, uint64_t index, const ot::MonteCarloConfig& mc) {
  ot::HeightNetworkSolverConfig cfg;
  cfg.hidden = common.hidden;
  cfg.fourier_features = common.fourier_features;
  cfg.lr = lr;
  cfg.tolerance = tolerance;
  cfg.max_iter = max_iter;
  cfg.seed = solver_seed(common.seed, index);
  cfg.monte_carlo = mc;
  cfg.device = tools::parse_device_flag(common.device);
  return cfg;
}

ot::FreeHeightSolverConfig free_height_config(const CommonOptions& common, double lr, double tolerance,
                                              int64_t max_iter, uint64_t index, const ot::MonteCarloConfig& mc) {
  ot::FreeHeightSolverConfig cfg;
  cfg.lr = lr;
  cfg.tolerance = tolerance;
  cfg.max_iter = max_iter;
  cfg.seed = solver_seed(common.seed, index);
  cfg.monte_carlo = mc;
  cfg.device = tools::parse_device_flag(common.device);
  return cfg;
}

void validate_common(const CommonOptions& opt) {
  tools::parse_device_flag(opt.device);  // cuda needs a CUDA build and a usable device; says so otherwise
  for (int64_t w : opt.hidden) BRENIER_CHECK(w >= 1, "--hidden: widths must be >= 1, got {}", w);
  BRENIER_CHECK(opt.fourier_features >= 0, "--fourier-features: must be >= 0 (0: raw y, Table A3), got {}",
                opt.fourier_features);
  BRENIER_CHECK(opt.lr >= 0 && std::isfinite(opt.lr), "--lr: must be > 0 (or 0 for the default), got {}", opt.lr);
  BRENIER_CHECK(opt.tolerance >= 0 && std::isfinite(opt.tolerance),
                "--tolerance: must be > 0 (or 0 for the default), got {}", opt.tolerance);
  BRENIER_CHECK(opt.max_iter >= 0, "--max-iter: must be >= 1 (or 0 for the default), got {}", opt.max_iter);
  BRENIER_CHECK(opt.checkpoint_every >= 0, "--checkpoint-every: must be >= 1 (or 0: only when stopping), got {}",
                opt.checkpoint_every);
  BRENIER_CHECK(!opt.resume || !opt.out.empty(), "--resume: needs --out, the folder of the run to continue");
}

void validate_ratios(const std::vector<double>& ratios, const char* flag) {
  BRENIER_CHECK(!ratios.empty(), "{}: give at least one ratio", flag);
  for (size_t i = 0; i < ratios.size(); ++i) {
    BRENIER_CHECK(std::isfinite(ratios[i]) && ratios[i] > 0 && ratios[i] <= 1, "{}: ratios must be in (0, 1], got {}",
                  flag, ratios[i]);
    for (size_t j = 0; j < i; ++j)
      BRENIER_CHECK(ratios[j] != ratios[i], "{}: ratio {} is listed twice", flag, ratios[i]);
  }
}

std::vector<double> parse_ratio_list(const std::string& text, const char* flag) {
  std::vector<double> out;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    BRENIER_CHECK(!item.empty() && used == item.size(), "{}: '{}' is not a number (expected e.g. 1,0.9,0.8)", flag,
                  item);
    out.push_back(v);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

nlohmann::json common_json(const CommonOptions& opt) {
  return {{"seed", opt.seed}, {"device", opt.device}, {"hidden", opt.hidden}, {"fourier_features", opt.fourier_features},
          {"lr", opt.lr},     {"tolerance", opt.tolerance}, {"max_iter", opt.max_iter},
          {"checkpoint_every", opt.checkpoint_every}};
}

fs::path prepare_run_folder(const CommonOptions& opt, const std::string& experiment, const nlohmann::json& options,
                            const std::vector<std::string>& keys) {
  const fs::path out = opt.out.empty() ? tools::make_run_dir("runs", "otnet", experiment) : opt.out;
  tools::prepare_run_folder("otnet", experiment, out, opt.resume, options, keys, {"checkpoints", "figures"});
  tools::write_json(out / "config.json", {{"tool", "otnet"}, {"experiment", experiment}, {"options", options}});
  return out;
}

ToyDataset toy_dataset(const std::string& name) {
  ToyDataset d;
  d.name = name;
  if (name == "ring") {
    // 8 Gaussians on the unit circle, variance 1e-4 per coordinate (spec §6.4).
    for (int i = 0; i < 8; ++i) {
      const double a = 2 * std::numbers::pi * i / 8;
      d.modes.push_back(std::cos(a));
      d.modes.push_back(std::sin(a));
    }
    d.sigma = 1e-2;
    d.source_std = std::sqrt(0.5);
    // Neighbouring modes' supporting planes meet at 0.548 rad; planes within a mode at < 0.05 rad.
    d.angle = 0.2;
    d.baseline_lr = 1e-3;
  } else if (name == "grid") {
    // 25 Gaussians at (−4 + 2i, −4 + 2j), variance 0.0025 per coordinate (spec §6.4).
    for (int i = 0; i < 5; ++i)
      for (int j = 0; j < 5; ++j) {
        d.modes.push_back(-4.0 + 2 * i);
        d.modes.push_back(-4.0 + 2 * j);
      }
    d.sigma = 0.05;
    d.source_std = std::sqrt(8.0);
    // Planes of different modes meet at >= 0.166 rad (diagonal neighbours at a corner); within a mode at
    // well under 0.1 rad.
    d.angle = 0.1;
    d.baseline_lr = 1e-2;
  } else {
    throw Error(fmt::format("--dataset: must be ring or grid, got '{}'", name));
  }
  return d;
}

Tensor sample_toy(const ToyDataset& data, int64_t n, Generator& gen) {
  const int64_t modes = static_cast<int64_t>(data.modes.size() / 2);
  const std::vector<double> z = gen.normal({n, 2}, 0.0, 1.0, DType::F64).to_vector<double>();
  const std::vector<int64_t> order = gen.permutation(n).to_vector<int64_t>();
  std::vector<float> pts(static_cast<size_t>(2 * n));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t k = order[static_cast<size_t>(i)] % modes;  // round-robin modes in shuffled order
    pts[2 * i] = static_cast<float>(data.modes[2 * k] + data.sigma * z[2 * i]);
    pts[2 * i + 1] = static_cast<float>(data.modes[2 * k + 1] + data.sigma * z[2 * i + 1]);
  }
  return Tensor::from_vector(pts, {n, 2});
}

Split random_split(int64_t n, double ratio, Generator& gen) {
  const std::vector<int64_t> perm = gen.permutation(n).to_vector<int64_t>();
  const int64_t n_train = std::clamp<int64_t>(static_cast<int64_t>(std::ceil(ratio * static_cast<double>(n) - 1e-9)),
                                              2, n);
  Split s;
  s.train.assign(perm.begin(), perm.begin() + n_train);
  s.held_out.assign(perm.begin() + n_train, perm.end());
  std::sort(s.train.begin(), s.train.end());
  std::sort(s.held_out.begin(), s.held_out.end());
  return s;
}

Tensor select_rows(const Tensor& points, const std::vector<int64_t>& index) {
  return index_select(Var(points), 0, Tensor::from_vector(index)).data();
}

double centred_relative_error(const std::vector<double>& a, const std::vector<double>& b,
                              const std::vector<int64_t>& index) {
  double ma = 0, mb = 0;
  for (int64_t i : index) ma += a[static_cast<size_t>(i)], mb += b[static_cast<size_t>(i)];
  ma /= static_cast<double>(index.size());
  mb /= static_cast<double>(index.size());
  double num = 0, den = 0;
  for (int64_t i : index) {
    const double d = (a[static_cast<size_t>(i)] - ma) - (b[static_cast<size_t>(i)] - mb);
    num += d * d;
    den += (b[static_cast<size_t>(i)] - mb) * (b[static_cast<size_t>(i)] - mb);
  }
  return std::sqrt(num / den);
}

nlohmann::json solve_json(const ot::SemiDiscreteSolveResult& r, double eval_grad_norm, int64_t steps) {
  nlohmann::json j = {{"converged", r.converged},   {"iterations", steps}, {"grad_norm", r.grad_norm},
                      {"mc_samples", r.mc_samples}, {"seconds", r.seconds}};
  if (eval_grad_norm >= 0) j["eval_grad_norm"] = eval_grad_norm;
  return j;
}

nlohmann::json network_solve_json(const ot::HeightNetworkSolver& solver, const ot::HeightNetworkSolveResult& r) {
  nlohmann::json j = solve_json(r, r.eval_grad_norm, r.iterations);
  const ot::HeightNetwork& net = solver.network();
  j["input_features"] = net.has_fourier_input() ? (net.input_width() - net.dim()) / 2 : 0;
  return j;
}

}  // namespace brenier::otnet_tool
