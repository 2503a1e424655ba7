// nctm toy2d: NOT's 2-D sanity checks for NCTM (issue 8, experiment 3; spec/algorithms.md §5.1 and §7 item 4).
// Source N(0, I₂). Per dataset (NOT's Swiss roll, ot/samplers/swiss_roll.h; DIOTM's 8 Gaussians scaled to
// unit variance, ot/samplers/toy2d.h) two maps are trained:
//   unconditional   one condition (a discrete variable with a single class): plain NOT with NCTM's network;
//   conditional     c = (k ∈ {0..K−1}, s ∈ [0, 1]), target = (0.5 + s) · R(πk/K) · y₀, y₀ from the dataset:
//                   the class rotates, the continuous variable scales. s ~ U[0, 1] in training.
// Score per condition: the exact W2 (Hungarian, ot/discrete/assignment.h) between n mapped source points and
// n target points, beside the identity map's W2 and a floor (the W2 between two independent n-point target
// samples: a perfect map scores about that, not 0). Conditions scored: k ∈ {0..K−1} × s ∈ {0, 0.5, 1}.
// One PNG per condition: figures/<run>-k<k>-s<s>.png, source (blue), target (orange), mapped (green).
#include <fmt/format.h>

#include <cmath>
#include <iostream>
#include <numbers>

#include "engine/ops/ops.h"
#include "ot/discrete/assignment.h"
#include "ot/samplers/swiss_roll.h"
#include "ot/samplers/toy2d.h"
#include "tools/common/cli.h"
#include "tools/common/png.h"
#include "tools/common/results.h"
#include "tools/nctm/tool.h"

namespace brenier::nctm_tool {
namespace {

constexpr const char* kExperiment = "toy2d";
constexpr int64_t kStreamBase = 1000;  // stream keys of toy2d runs (gaussian uses the dimension)

// The base target y₀ of a dataset, standardized: the Swiss roll whitened by its exact moments; DIOTM's 8G
// (radius 12, variance 0.4 per mode) divided by its exact standard deviation √(12²/2 + 0.4).
Tensor base_target(const std::string& dataset, int64_t n, Generator& gen) {
  if (dataset == "swiss-roll") return ot::sample_swiss_roll(n, gen, DType::F64);
  const Tensor y = ot::sample_toy2d(ot::Toy2d::EightGaussians, n, gen, DType::F64);
  return (Var(y) * (1.0 / std::sqrt(72.4))).data();
}

double scale_of(double s) { return 0.5 + s; }
double angle_of(int64_t k, int64_t classes) { return std::numbers::pi * static_cast<double>(k) / static_cast<double>(classes); }

// Rows of y [n, 2] rotated by angle_of(k_i) and scaled by scale_of(s_i).
Tensor transform(const Tensor& y, const std::vector<int64_t>& k, const std::vector<double>& s, int64_t classes) {
  std::vector<double> v = y.to_vector<double>();
  for (size_t i = 0; i < k.size(); ++i) {
    const double a = angle_of(k[i], classes), c = scale_of(s[i]) * std::cos(a), sn = scale_of(s[i]) * std::sin(a);
    const double y0 = v[2 * i], y1 = v[2 * i + 1];
    v[2 * i] = c * y0 - sn * y1;
    v[2 * i + 1] = sn * y0 + c * y1;
  }
  return Tensor::from_vector(v, {static_cast<int64_t>(k.size()), 2});
}

struct ConditionScore {
  int64_t k = 0;
  double s = 0, w2 = 0, identity = 0, floor = 0;
  std::string figure;
};

struct ToyRun {
  std::string label, dataset;
  bool conditional = false;
  int64_t steps = 0;
  double seconds = 0;
  bool diverged = false, scored = false;
  std::string error;
  std::vector<ConditionScore> conditions;
  double mean(double ConditionScore::*field) const {
    double t = 0;
    for (const ConditionScore& c : conditions) t += c.*field;
    return conditions.empty() ? 0.0 : t / static_cast<double>(conditions.size());
  }
  nlohmann::json json() const {
    nlohmann::json j{{"label", label}, {"dataset", dataset}, {"conditional", conditional}, {"steps", steps},
                     {"seconds", seconds}, {"diverged", diverged}};
    if (!error.empty()) j["error"] = error;
    if (scored) {
      nlohmann::json per = nlohmann::json::array();
      for (const ConditionScore& c : conditions)
        per.push_back({{"k", c.k}, {"s", c.s}, {"w2", c.w2}, {"identity_w2", c.identity}, {"floor_w2", c.floor},
                       {"figure", c.figure}});
      j["conditions"] = per;
      j["w2"] = mean(&ConditionScore::w2);
      j["identity_w2"] = mean(&ConditionScore::identity);
      j["floor_w2"] = mean(&ConditionScore::floor);
    }
    return j;
  }
};

double exact_w2(const Tensor& a, const Tensor& b) { return std::sqrt(ot::exact_ot_uniform(a, b).w2_squared); }

ToyRun run_one(const Toy2dOptions& options, const std::string& dataset, bool conditional, int64_t key) {
  const CommonOptions& opt = options.common;
  ToyRun run;
  run.dataset = dataset;
  run.conditional = conditional;
  run.label = dataset + (conditional ? "-conditional" : "-unconditional");
  const int64_t classes = conditional ? opt.classes : 1;
  ot::NctmSolverConfig config = solver_config(opt, 2);
  config.encoder.num_classes = {classes};
  config.encoder.num_continuous = conditional ? 1 : 0;
  const BatchDraw draw = [&](Generator& gen) {
    const Tensor x = gen.normal({opt.batch, 2}, 0, 1, DType::F64);
    std::vector<int64_t> k(static_cast<size_t>(opt.batch), 0);
    std::vector<double> s(static_cast<size_t>(opt.batch), 0.5);  // unconditional: angle 0, scale_of(0.5) = 1
    if (conditional) {
      k = gen.randint({opt.batch}, 0, classes).to_vector<int64_t>();
      s = gen.uniform({opt.batch}, 0.0, 1.0, DType::F64).to_vector<double>();
    }
    const Tensor y = transform(base_target(dataset, opt.batch, gen), k, s, classes);
    ot::Condition c{Tensor::from_vector(k, {opt.batch, 1}), {}};
    if (conditional) c.continuous = Tensor::from_vector(s, {opt.batch, 1});
    return ot::NctmBatch{x, y, c};
  };
  TrainedRun trained = train_run(opt, config, key, run.label, opt.out, draw);
  run.steps = trained.steps;
  run.seconds = trained.seconds;
  run.diverged = trained.diverged;
  run.error = trained.error;
  if (!trained.solver) return run;
  // Scoring: one source sample for every condition; fresh target samples per condition.
  Generator eval = stream(opt.seed, key, Stream::Evaluation);
  const int64_t n = opt.eval_samples;
  const Tensor x = eval.normal({n, 2}, 0, 1, DType::F64);
  const std::vector<double> grid = conditional ? std::vector<double>{0.0, 0.5, 1.0} : std::vector<double>{0.5};
  fs::create_directories(opt.out / "figures");
  for (int64_t k = 0; k < classes; ++k)
    for (double s : grid) {
      const std::vector<int64_t> ks(static_cast<size_t>(n), k);
      const std::vector<double> ss(static_cast<size_t>(n), s);
      const Tensor y = transform(base_target(dataset, n, eval), ks, ss, classes);
      const Tensor y2 = transform(base_target(dataset, n, eval), ks, ss, classes);
      ot::Condition c{Tensor::from_vector(ks, {n, 1}), {}};
      if (conditional) c.continuous = Tensor::from_vector(ss, {n, 1});
      const Tensor mapped = trained.solver->transport(x, c).to(DType::F64);
      ConditionScore sc{k, s, exact_w2(mapped, y), exact_w2(x, y), exact_w2(y2, y), ""};
      sc.figure = conditional ? fmt::format("figures/{}-k{}-s{}.png", run.label, k, s)
                              : fmt::format("figures/{}.png", run.label);
      tools::scatter_plot({tools::points_from_tensor(x), tools::points_from_tensor(y), tools::points_from_tensor(mapped)},
                          500, 500, 1.6, 0.5)
          .save(opt.out / sc.figure);
      run.conditions.push_back(sc);
    }
  run.scored = true;
  nlohmann::json record = run.json();
  record["event"] = "scored";
  tools::append_jsonl(opt.out / "metrics.jsonl", record);
  return run;
}

void write_results(const Toy2dOptions& options, const std::vector<ToyRun>& runs, bool done) {
  const CommonOptions& opt = options.common;
  tools::Table summary({"run", "steps", "W2 map", "W2 identity", "W2 floor", "seconds"}, 3);
  tools::Table detail({"run", "k", "angle (deg)", "s", "scale", "W2 map", "W2 identity", "W2 floor"}, 3);
  nlohmann::json all = nlohmann::json::array();
  for (const ToyRun& r : runs) {
    all.push_back(r.json());
    if (!r.scored) {
      summary.add_row({r.label, r.steps, std::string("diverged"), std::string("-"), std::string("-"), r.seconds});
      continue;
    }
    summary.add_row({r.label, r.steps, r.mean(&ConditionScore::w2), r.mean(&ConditionScore::identity),
                     r.mean(&ConditionScore::floor), r.seconds});
    if (r.conditional)
      for (const ConditionScore& c : r.conditions)
        detail.add_row({r.label, c.k, 180.0 * angle_of(c.k, opt.classes) / std::numbers::pi, c.s, scale_of(c.s), c.w2,
                        c.identity, c.floor});
  }
  tools::write_json(opt.out / "results.json", {{"tool", "nctm"},
                                                {"experiment", kExperiment},
                                                {"status", done ? "done" : "running"},
                                                {"options", common_json(opt)},
                                                {"datasets", options.datasets},
                                                {"runs", all}});
  std::string md = fmt::format(
      "# nctm toy2d\n\n"
      "NOT's 2-D sanity checks with NCTM's network (spec §5.1, §7 item 4). Source N(0, I₂); targets: NOT's Swiss\n"
      "roll (standardized) and 8 Gaussians (DIOTM's sampler scaled to unit variance). `unconditional` runs have one\n"
      "condition; `conditional` runs see c = (k of {}, s ∈ [0, 1]) with target (0.5 + s)·R(πk/K)·y₀, trained on\n"
      "s ~ U[0, 1], scored on k × s ∈ {{0, 0.5, 1}}. W2 = exact W2 (Hungarian) between {} mapped source points and\n"
      "{} target points per condition, averaged over conditions; identity = the same for x ↦ x; floor = the W2\n"
      "between two independent {}-point target samples (what a perfect map scores).\n\n"
      "The paper's climate and IAM data are not public here; these toys check the mechanism on known targets.\n\n"
      "Schedule: {} identity pre-training steps, {} critic warm-up steps, {} alternating steps (K_T = {}), batch {},\n"
      "lr {} / {}, width {}, {} conditioning, {} encoding, {} cost (noise dim {}, {} z per x, gamma {}), seed {}.\n\n{}\n",
      opt.classes, opt.eval_samples, opt.eval_samples, opt.eval_samples, opt.pretrain_steps, opt.warmup_steps, opt.iters,
      opt.map_steps, opt.batch, opt.map_lr, opt.critic_lr, opt.width, opt.conditioning, opt.encoding, opt.cost,
      opt.noise_dim, opt.noise_samples, opt.gamma, opt.seed,
      summary.to_markdown());
  if (detail.num_rows() > 0) md += "\nPer condition of the conditional runs:\n\n" + detail.to_markdown();
  md += "\nFigures: figures/<run>[-k<k>-s<s>].png, source (blue), target (orange), mapped source (green).\n";
  if (!done) md += "\n(run in progress)\n";
  tools::write_text(opt.out / "results.md", md);
}

}  // namespace

int run_toy2d(const Toy2dOptions& options) {
  Toy2dOptions o = options;
  CommonOptions& opt = o.common;
  opt.dims = {2};
  validate_common(opt);
  BRENIER_CHECK(!o.datasets.empty(), "--datasets: give at least one of swiss-roll, 8g");
  for (size_t i = 0; i < o.datasets.size(); ++i) {
    const std::string& d = o.datasets[i];
    BRENIER_CHECK(d == "swiss-roll" || d == "8g", "--datasets: each must be swiss-roll or 8g, got '{}'", d);
    for (size_t j = 0; j < i; ++j) BRENIER_CHECK(o.datasets[j] != d, "--datasets: '{}' is listed twice", d);
  }
  BRENIER_CHECK(opt.eval_samples <= 4096,
                "--eval-samples: exact W2 uses the O(n³) Hungarian method, keep n <= 4096 (256-512 is plenty), got {}",
                opt.eval_samples);
  if (opt.out.empty()) opt.out = tools::make_run_dir("runs", "nctm", kExperiment);
  nlohmann::json options_j = common_json(opt);
  options_j["datasets"] = o.datasets;
  prepare_run_folder(opt, opt.out, options_j,
                     {"iters", "pretrain_steps", "warmup_steps", "batch", "map_steps", "map_lr", "critic_lr", "critic_magnitude",
                      "weight_decay", "position_scale", "width", "conditioning", "encoding", "shared_encoder", "classes", "eval_samples",
                      "seed", "datasets"},
                     kExperiment);
  tools::write_json(opt.out / "config.json", {{"tool", "nctm"}, {"experiment", kExperiment}, {"options", options_j}});
  std::vector<ToyRun> runs;
  int64_t key = kStreamBase;
  for (const std::string& dataset : o.datasets)
    for (bool conditional : {false, true}) {
      runs.push_back(run_one(o, dataset, conditional, key++));
      write_results(o, runs, false);
    }
  write_results(o, runs, true);
  std::cout << "results in " << opt.out.string() << " (results.md, results.json, figures/)\n";
  bool diverged = false;
  for (const ToyRun& r : runs) {
    if (r.scored)
      std::cout << fmt::format("{}: W2 {:.3f} (identity {:.3f}, floor {:.3f})\n", r.label, r.mean(&ConditionScore::w2),
                               r.mean(&ConditionScore::identity), r.mean(&ConditionScore::floor));
    diverged = diverged || r.diverged;
  }
  return exit_code(diverged);
}

}  // namespace brenier::nctm_tool
