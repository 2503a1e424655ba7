// diotm toy and diotm lambda: the paper's 2-D experiments (spec §4.1, §4.4): G → 8G, G → 25G, Moon →
// Spiral, G → Circles. The metric is the exact W2 between n mapped source samples T→(x) and n target
// samples (Hungarian assignment, ot/discrete/assignment.h), beside the identity's W2 and the "floor": the
// W2 between two independent n-samples of the target, which no map can beat on average at this n.
// `toy` trains DIOTM with HJB, with R1 and without a regularizer (the paper's ablation); `lambda` trains
// one regularizer at several weights λ (the paper's Table 3 claims HJB is insensitive to λ).
#include <fmt/format.h>

#include <cmath>
#include <iostream>

#include "engine/ops/ops.h"
#include "ot/discrete/assignment.h"
#include "ot/samplers/toy2d.h"
#include "tools/common/cli.h"
#include "tools/common/png.h"
#include "tools/common/results.h"
#include "tools/diotm/tool.h"

namespace brenier::diotm_tool {
namespace {

constexpr int64_t kFigurePoints = 800;  // target, source and mapped points drawn
constexpr int64_t kTrajectories = 50;   // x_t paths drawn
constexpr int kTrajectorySteps = 16;

struct EvalSet {
  Tensor x, y, y_other;      // n source, n target, n more target (the floor)
  double identity_w2 = NAN;  // W2(x, y)
  double floor_w2 = NAN;     // W2(y_other, y)
};

struct UnitScore {
  std::string name, label;  // unit name; what varies (variant or λ)
  int64_t iters = 0;
  double seconds = 0, seconds_per_step = 0;
  bool diverged = false, resumed = false, scored = false;
  std::string error;
  double w2_fwd = NAN, w2_inv = NAN;
};

double exact_w2(const Tensor& a, const Tensor& b) { return std::sqrt(ot::exact_ot_uniform(a, b).w2_squared); }

EvalSet make_eval_set(const ToyOptions& opt, const std::string& dataset) {
  const ot::Toy2dPair pair = ot::toy2d_pair(dataset);
  Generator gen = stream(opt.common.seed, unit_id(dataset), Stream::Evaluation);
  EvalSet e;
  e.x = ot::sample_toy2d(pair.source, opt.eval_samples, gen);
  e.y = ot::sample_toy2d(pair.target, opt.eval_samples, gen);
  e.y_other = ot::sample_toy2d(pair.target, opt.eval_samples, gen);
  e.identity_w2 = exact_w2(e.x, e.y);
  e.floor_w2 = exact_w2(e.y_other, e.y);
  return e;
}

// Target (gray), source (blue), T→(x) (orange) and x_t paths from x to T→(x) (green).
void draw_figure(const ot::DiotmSolver& solver, const ot::Toy2dPair& pair, const ToyOptions& opt,
                 const std::string& name, const fs::path& path) {
  Generator gen = stream(opt.common.seed, unit_id(name), Stream::Figure);
  const Tensor x = ot::sample_toy2d(pair.source, kFigurePoints, gen), y = ot::sample_toy2d(pair.target, kFigurePoints, gen);
  const Tensor mapped = solver.transport(x);
  static_assert(kFigurePoints % kTrajectories == 0, "evenly spaced trajectory points");
  std::vector<std::vector<tools::Point2>> paths(kTrajectories);
  Tensor x_few;
  {
    NoGradGuard no_grad;
    // Every k-th point, so the paths cover the whole source (Moon's points come in grid order).
    x_few = slice(Var(x), 0, 0, kFigurePoints, kFigurePoints / kTrajectories).data();
  }
  for (int s = 0; s <= kTrajectorySteps; ++s) {
    const std::vector<tools::Point2> pts =
        tools::points_from_tensor(solver.interpolate(x_few, static_cast<double>(s) / kTrajectorySteps));
    for (int64_t i = 0; i < kTrajectories; ++i) paths[i].push_back(pts[i]);
  }
  const std::vector<tools::Point2> ys = tools::points_from_tensor(y), xs = tools::points_from_tensor(x),
                                   ms = tools::points_from_tensor(mapped);
  std::vector<tools::Point2> all = ys;
  all.insert(all.end(), xs.begin(), xs.end());
  all.insert(all.end(), ms.begin(), ms.end());
  tools::Canvas canvas(700, 700);
  canvas.set_bounds(tools::bounds_of(all, 0.05));
  canvas.frame();
  canvas.scatter(ys, tools::with_alpha(tools::palette_color(7), 0.5), 2.0);
  canvas.scatter(xs, tools::palette_color(0, 0.5), 2.0);
  for (const auto& p : paths)
    for (size_t k = 1; k < p.size(); ++k) canvas.line(p[k - 1], p[k], tools::palette_color(2, 0.8), 1.2);
  canvas.scatter(ms, tools::palette_color(1, 0.7), 2.0);
  canvas.save(path);
}

UnitScore run_unit(const ToyOptions& opt, const std::string& dataset, const std::string& label,
                   const ot::DiotmConfig& config, const EvalSet& eval, const fs::path& out) {
  const ot::Toy2dPair pair = ot::toy2d_pair(dataset);
  UnitScore s;
  s.name = fmt::format("{}-{}", dataset, label);
  s.label = label;
  Unit unit{s.name, config,
            [pair](int64_t n, Generator& g) { return ot::sample_toy2d(pair.source, n, g); },
            [pair](int64_t n, Generator& g) { return ot::sample_toy2d(pair.target, n, g); }};
  UnitResult trained = train_unit(opt.common, opt.common.iters, unit, out);
  s.iters = trained.iters;
  s.seconds = trained.seconds;
  s.seconds_per_step = trained.seconds_per_step;
  s.diverged = trained.diverged;
  s.resumed = trained.resumed;
  s.error = trained.error;
  if (!trained.solver) return s;
  s.w2_fwd = exact_w2(trained.solver->transport(eval.x), eval.y);
  s.w2_inv = exact_w2(trained.solver->inverse_transport(eval.y), eval.x);
  s.scored = true;
  draw_figure(*trained.solver, pair, opt, s.name, out / "figures" / (s.name + ".png"));
  tools::append_jsonl(out / "metrics.jsonl",
                      {{"unit", s.name}, {"step", s.iters}, {"event", "scored"}, {"w2_fwd", s.w2_fwd}, {"w2_inv", s.w2_inv}});
  return s;
}

std::string num(double v, int decimals = 3) { return std::isfinite(v) ? fmt::format("{:.{}f}", v, decimals) : "n/a"; }

nlohmann::json unit_json(const UnitScore& s) {
  nlohmann::json j{{"iters", s.iters}, {"seconds", s.seconds}, {"seconds_per_step", s.seconds_per_step},
                   {"diverged", s.diverged}, {"resumed", s.resumed}};
  if (s.diverged) j["error"] = s.error;
  if (s.scored) j.update({{"w2_fwd", s.w2_fwd}, {"w2_inv", s.w2_inv}});
  return j;
}

struct DatasetScores {
  std::string dataset;
  EvalSet eval;
  std::vector<UnitScore> units;
};

const char* kMetricText =
    "W2 = exact W2 (not squared) between n mapped source samples T→(x) and n target samples (Hungarian "
    "assignment on uniform n-samples, ot/discrete/assignment.h); \"W2 inv\" the same for T←(y) against source "
    "samples. \"identity\" is W2(x, y) before transport; \"floor\" is W2 between two independent n-samples of the "
    "target, the sampling noise a perfect map still shows at this n. The spec records no paper numbers for these "
    "experiments (the paper's Table 1 is not available to us), so there is no paper column.\n\n";

std::string dataset_text(const std::string& d) {
  if (d == "8g") return "G → 8G";
  if (d == "25g") return "G → 25G";
  if (d == "moon-spiral") return "Moon → Spiral";
  return "G → Circles";
}

void write_results(const fs::path& out, const ToyOptions& opt, const char* experiment, const nlohmann::json& options_j,
                   const std::vector<DatasetScores>& all, bool done) {
  nlohmann::json results = nlohmann::json::object();
  const bool lambda = std::string(experiment) == "lambda";
  tools::Table table({"dataset", lambda ? "λ" : "variant", "iters", "W2 fwd", "W2 inv", "identity", "floor",
                      "s/step", "status"});
  std::string verdicts;
  for (const DatasetScores& d : all) {
    nlohmann::json j{{"identity_w2", d.eval.identity_w2}, {"floor_w2", d.eval.floor_w2},
                     {"eval_samples", opt.eval_samples}};
    double hjb = NAN, none = NAN;
    for (const UnitScore& s : d.units) {
      j[s.label] = unit_json(s);
      table.add_row({dataset_text(d.dataset), s.label, s.iters, num(s.w2_fwd), num(s.w2_inv), num(d.eval.identity_w2),
                     num(d.eval.floor_w2), num(s.seconds_per_step, 4),
                     std::string(s.diverged ? "diverged" : (s.scored ? "ok" : "not scored"))});
      if (s.label == "hjb") hjb = s.w2_fwd;
      if (s.label == "none") none = s.w2_fwd;
    }
    if (!lambda && std::isfinite(hjb) && std::isfinite(none)) {
      j["hjb_at_or_below_none"] = hjb <= none;
      verdicts += fmt::format("- {}: HJB {:.3f} {} no regularizer {:.3f}\n", dataset_text(d.dataset), hjb,
                              hjb <= none ? "≤" : ">", none);
    }
    results[d.dataset] = j;
  }
  tools::write_json(out / "results.json", {{"tool", "diotm"},
                                           {"experiment", experiment},
                                           {"status", done ? "done" : "running"},
                                           {"config", options_j},
                                           {"results", results}});
  std::string md = fmt::format("# diotm {}: DIOTM on the paper's 2-D problems{}\n\nStatus: {}. Seed {}, {} steps per "
                               "run, n = {} evaluation samples.\n\n{}{}\n",
                               experiment, lambda ? ", sensitivity to the regularizer weight λ" : "",
                               done ? "done" : "running", opt.common.seed, opt.common.iters, opt.eval_samples,
                               kMetricText, table.to_markdown());
  if (!verdicts.empty()) md += "\nHJB against no regularizer (forward W2, lower is better):\n" + verdicts;
  if (lambda)
    md += fmt::format("\nRegularizer `{}` at each λ (λ = 0 is the no-regularizer model).\n", opt.common.regularizer);
  md += fmt::format("\nFigures: figures/<dataset>-<{}>.png — target (gray), source (blue), x_t paths (green, t = 0 … "
                    "1), T→(x) (orange).\n\n",
                    lambda ? "regularizer-lambda<λ>" : "variant");
  md += choices_markdown(opt.common, solver_config(opt.common, 2),
                         lambda ? fmt::format("`{}` (λ per row of the table; the default below is unused)",
                                              opt.common.regularizer)
                                : fmt::format("per variant ({})", fmt::join(opt.variants, " / ")));
  for (const DatasetScores& d : all)
    for (const UnitScore& s : d.units)
      if (s.diverged) md += fmt::format("\n**{} diverged**: {}\n", s.name, s.error);
  tools::write_text(out / "results.md", md);
}

void validate_toy(const ToyOptions& opt) {
  validate_common(opt.common);
  BRENIER_CHECK(!opt.datasets.empty(), "--dataset: give at least one of 8g, 25g, moon-spiral, circles");
  for (const std::string& d : opt.datasets) {
    bool known = false;
    for (const char* const* n = ot::toy2d_datasets(); *n; ++n) known = known || d == *n;
    BRENIER_CHECK(known, "--dataset: must be one of 8g, 25g, moon-spiral, circles, got '{}'", d);
  }
  BRENIER_CHECK(opt.eval_samples >= 2 && opt.eval_samples <= 5000,
                "--eval-samples: must be in [2, 5000] (the exact W2 is O(n³)), got {}", opt.eval_samples);
  ot::parse_diotm_regularizer(opt.common.regularizer);
  ot::parse_hjb_norm(opt.common.hjb_norm);
}

int finish(const fs::path& out, const std::vector<DatasetScores>& all) {
  std::cout << "results in " << out.string() << " (results.md, results.json, figures/)\n";
  bool diverged = false;
  for (const DatasetScores& d : all)
    for (const UnitScore& s : d.units) {
      if (s.scored)
        std::cout << fmt::format("{}: W2 fwd {:.3f} inv {:.3f} (identity {:.3f}, floor {:.3f})\n", s.name, s.w2_fwd,
                                 s.w2_inv, d.eval.identity_w2, d.eval.floor_w2);
      diverged = diverged || s.diverged;
    }
  return diverged ? kExitDiverged : tools::kExitOk;
}

}  // namespace

int run_toy(const ToyOptions& options) {
  ToyOptions opt = options;
  validate_toy(opt);
  BRENIER_CHECK(!opt.variants.empty(), "--variants: give at least one of hjb, r1, none");
  for (size_t i = 0; i < opt.variants.size(); ++i) {
    ot::parse_diotm_regularizer(opt.variants[i]);
    for (size_t j = 0; j < i; ++j)
      BRENIER_CHECK(opt.variants[j] != opt.variants[i], "--variants: '{}' is listed twice", opt.variants[i]);
  }
  if (opt.common.out.empty()) opt.common.out = tools::make_run_dir("runs", "diotm", "toy");
  const fs::path out = opt.common.out;
  nlohmann::json options_j = common_json(opt.common);
  options_j["datasets"] = opt.datasets;
  options_j["variants"] = opt.variants;
  options_j["eval_samples"] = opt.eval_samples;
  prepare_run_folder(opt.common, out, options_j,
                     {"batch", "alpha", "hjb_norm", "lambda", "kv", "kt", "lr_map", "lr_potential", "seed",
                      "eval_samples"},
                     "toy");
  tools::write_json(out / "config.json", {{"tool", "diotm"}, {"experiment", "toy"}, {"options", options_j}});
  std::vector<DatasetScores> all;
  for (const std::string& dataset : opt.datasets) {
    all.push_back({dataset, make_eval_set(opt, dataset), {}});
    for (const std::string& variant : opt.variants) {
      ot::DiotmConfig config = solver_config(opt.common, 2);
      config.regularizer = ot::parse_diotm_regularizer(variant);
      all.back().units.push_back(run_unit(opt, dataset, variant, config, all.back().eval, out));
      write_results(out, opt, "toy", options_j, all, false);
    }
  }
  write_results(out, opt, "toy", options_j, all, true);
  return finish(out, all);
}

int run_lambda(const ToyOptions& options) {
  ToyOptions opt = options;
  validate_toy(opt);
  BRENIER_CHECK(!opt.lambdas.empty(), "--lambdas: give at least one weight");
  for (double l : opt.lambdas)
    BRENIER_CHECK(std::isfinite(l) && l >= 0, "--lambdas: weights must be finite and >= 0, got {}", l);
  BRENIER_CHECK(opt.common.regularizer != "none", "--regularizer: lambda needs hjb or r1 (none has no weight)");
  if (opt.common.out.empty()) opt.common.out = tools::make_run_dir("runs", "diotm", "lambda");
  const fs::path out = opt.common.out;
  nlohmann::json options_j = common_json(opt.common);
  options_j["datasets"] = opt.datasets;
  options_j["lambdas"] = opt.lambdas;
  options_j["eval_samples"] = opt.eval_samples;
  prepare_run_folder(opt.common, out, options_j,
                     {"batch", "alpha", "regularizer", "hjb_norm", "kv", "kt", "lr_map", "lr_potential", "seed",
                      "eval_samples"},
                     "lambda");
  tools::write_json(out / "config.json", {{"tool", "diotm"}, {"experiment", "lambda"}, {"options", options_j}});
  std::vector<DatasetScores> all;
  for (const std::string& dataset : opt.datasets) {
    all.push_back({dataset, make_eval_set(opt, dataset), {}});
    for (double l : opt.lambdas) {
      ot::DiotmConfig config = solver_config(opt.common, 2);
      config.reg_weight = l;
      all.back().units.push_back(
          run_unit(opt, dataset, fmt::format("{}-lambda{}", opt.common.regularizer, l), config, all.back().eval, out));
      write_results(out, opt, "lambda", options_j, all, false);
    }
  }
  write_results(out, opt, "lambda", options_j, all, true);
  return finish(out, all);
}

}  // namespace brenier::diotm_tool
