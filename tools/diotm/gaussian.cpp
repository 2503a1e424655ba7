// diotm gaussian: Gaussian → Gaussian per dimension, scored against the closed-form Bures map
// (ot/metrics/gaussian_w2.h) with the W2 benchmark's L2-UVP (spec §0) on fresh samples, for both the
// forward map T→ (l2uvp_fwd) and the backward map T← (l2uvp_inv). The pair of each dimension is
// random_gaussian(D) twice (ot/samplers/gaussian.h: spectra in [0.5, 2], means ~ N(0, I)), seeded.
// `--problem w2bench` hands over to w2bench_pairs.cpp after the shared option checks.
#include <fmt/format.h>

#include <cmath>
#include <iostream>

#include "ot/metrics/gaussian_w2.h"
#include "ot/metrics/l2_uvp.h"
#include "ot/samplers/gaussian.h"
#include "tools/common/cli.h"
#include "tools/common/results.h"
#include "tools/diotm/tool.h"

namespace brenier::diotm_tool {
namespace {

constexpr const char* kExperiment = "gaussian";

struct DimResult {
  int64_t dim = 0, iters = 0;
  double seconds = 0, seconds_per_step = 0;
  bool diverged = false, resumed = false, scored = false;
  std::string error;
  double l2uvp_fwd = NAN, l2uvp_inv = NAN, l2uvp_identity = NAN, w2_squared = NAN, cost_fwd = NAN;
};

nlohmann::json options_json(const GaussianOptions& opt) {
  nlohmann::json j = common_json(opt.common);
  j["dims"] = opt.dims;
  j["eval_samples"] = opt.eval_samples;
  return j;
}

DimResult run_dim(const GaussianOptions& opt, int64_t dim, const fs::path& out) {
  DimResult r;
  r.dim = dim;
  const std::string name = fmt::format("dim{}", dim);
  Generator problem = stream(opt.common.seed, unit_id(name), Stream::Problem);
  const ot::Gaussian mu = ot::random_gaussian(dim, problem), nu = ot::random_gaussian(dim, problem);
  Unit unit{name, solver_config(opt.common, dim),
            [&](int64_t n, Generator& g) { return mu.sample(n, g); },
            [&](int64_t n, Generator& g) { return nu.sample(n, g); }};
  UnitResult trained = train_unit(opt.common, opt.common.iters, unit, out);
  r.iters = trained.iters;
  r.seconds = trained.seconds;
  r.seconds_per_step = trained.seconds_per_step;
  r.diverged = trained.diverged;
  r.resumed = trained.resumed;
  r.error = trained.error;
  if (!trained.solver) return r;
  const ot::AffineMap bures = ot::bures_map(mu, nu);
  Generator eval = stream(opt.common.seed, unit_id(name), Stream::Evaluation);
  const Tensor x = mu.sample(opt.eval_samples, eval);
  const Tensor y = bures.apply(x);  // pairs (x, T*(x)): the inverse is scored on y = T*(x) against x (spec §0)
  const Tensor fwd = trained.solver->transport(x), inv = trained.solver->inverse_transport(y);
  r.l2uvp_fwd = ot::l2_uvp(fwd, y, nu.total_variance());
  r.l2uvp_inv = ot::l2_uvp(inv, x, mu.total_variance());
  r.l2uvp_identity = ot::l2_uvp(x, y, nu.total_variance());
  r.w2_squared = ot::gaussian_w2_squared(mu, nu);
  r.cost_fwd = ot::l2_uvp(fwd, x, 100.0);  // mean ‖T→(x) − x‖² (l2_uvp with "variance" 100 is the plain mean)
  r.scored = true;
  tools::append_jsonl(out / "metrics.jsonl", {{"unit", name}, {"step", r.iters}, {"event", "scored"},
                                               {"l2uvp_fwd", r.l2uvp_fwd}, {"l2uvp_inv", r.l2uvp_inv}});
  return r;
}

std::string num(double v, int decimals = 2) { return std::isfinite(v) ? fmt::format("{:.{}f}", v, decimals) : "n/a"; }

void write_results(const fs::path& out, const GaussianOptions& opt, const std::vector<DimResult>& results, bool done) {
  nlohmann::json per_dim = nlohmann::json::object();
  tools::Table table({"dim", "iters", "L2-UVP fwd %", "L2-UVP inv %", "identity %", "W2² (exact)", "E‖T→(x)−x‖²",
                      "s/step", "status"});
  for (const DimResult& r : results) {
    nlohmann::json j{{"dim", r.dim},        {"iters", r.iters},     {"seconds", r.seconds},
                     {"seconds_per_step", r.seconds_per_step}, {"diverged", r.diverged}, {"resumed", r.resumed}};
    if (r.diverged) j["error"] = r.error;
    if (r.scored)
      j.update({{"l2uvp_fwd", r.l2uvp_fwd}, {"l2uvp_inv", r.l2uvp_inv}, {"l2uvp_identity", r.l2uvp_identity},
                {"w2_squared", r.w2_squared}, {"transport_cost_fwd", r.cost_fwd}});
    per_dim[std::to_string(r.dim)] = j;
    table.add_row({r.dim, r.iters, num(r.l2uvp_fwd), num(r.l2uvp_inv), num(r.l2uvp_identity), num(r.w2_squared, 3),
                   num(r.cost_fwd, 3), num(r.seconds_per_step, 4),
                   std::string(r.diverged ? "diverged" : (r.scored ? "ok" : "not scored"))});
  }
  nlohmann::json config = options_json(opt);
  tools::write_json(out / "results.json", {{"tool", "diotm"},
                                           {"experiment", kExperiment},
                                           {"status", done ? "done" : "running"},
                                           {"config", config},
                                           {"results", per_dim}});
  std::string md = fmt::format(
      "# diotm gaussian: DIOTM on Gaussian → Gaussian, against the closed-form Bures map\n\n"
      "Status: {}. Seed {}, {} steps per dimension. Each dimension's pair is two random well-conditioned "
      "Gaussians (spectra in [0.5, 2]); L2-UVP = 100·E‖T̂(x) − T*(x)‖²/Var(ν) on {} fresh pairs (x, T*(x)) "
      "(spec §0); the inverse is T← scored on y = T*(x) against x, normalized by Var(μ). \"identity\" is the "
      "identity map's L2-UVP (the scale of the problem). The paper reports no Gaussian numbers (the spec "
      "records none).\n\n{}\n{}",
      done ? "done" : "running", opt.common.seed, opt.common.iters, opt.eval_samples, table.to_markdown(),
      choices_markdown(opt.common, solver_config(opt.common, opt.dims.empty() ? 2 : opt.dims.front())));
  for (const DimResult& r : results)
    if (r.diverged) md += fmt::format("\n**dim {} diverged**: {}\n", r.dim, r.error);
  tools::write_text(out / "results.md", md);
}

}  // namespace

int run_gaussian(const GaussianOptions& options) {
  GaussianOptions opt = options;
  validate_common(opt.common);
  BRENIER_CHECK(!opt.dims.empty(), "--dims: give at least one dimension");
  for (size_t i = 0; i < opt.dims.size(); ++i) {
    BRENIER_CHECK(opt.dims[i] >= 1, "--dims: dimensions must be >= 1, got {}", opt.dims[i]);
    for (size_t j = 0; j < i; ++j)
      BRENIER_CHECK(opt.dims[j] != opt.dims[i], "--dims: dimension {} is listed twice", opt.dims[i]);
  }
  BRENIER_CHECK(opt.eval_samples >= 2, "--eval-samples: must be >= 2, got {}", opt.eval_samples);
  ot::parse_diotm_regularizer(opt.common.regularizer);
  ot::parse_hjb_norm(opt.common.hjb_norm);
  BRENIER_CHECK(opt.problem == "gaussian" || opt.problem == "w2bench",
                "--problem: must be gaussian or w2bench, got '{}'", opt.problem);
  if (opt.problem == "w2bench") return run_w2bench_pairs(opt);
  BRENIER_CHECK(opt.shared.empty(), "--shared: only --problem w2bench reads the shared data folder");
  if (opt.common.out.empty()) opt.common.out = tools::make_run_dir("runs", "diotm", kExperiment);
  const fs::path out = opt.common.out;
  const nlohmann::json options_j = options_json(opt);
  prepare_run_folder(opt.common, out, options_j,
                     {"batch", "alpha", "regularizer", "hjb_norm", "lambda", "kv", "kt", "lr_map", "lr_potential",
                      "seed", "eval_samples"},
                     kExperiment);
  tools::write_json(out / "config.json", {{"tool", "diotm"}, {"experiment", kExperiment}, {"options", options_j}});
  std::vector<DimResult> results;
  for (int64_t dim : opt.dims) {
    results.push_back(run_dim(opt, dim, out));
    write_results(out, opt, results, false);
  }
  write_results(out, opt, results, true);
  std::cout << "results in " << out.string() << " (results.md, results.json)\n";
  for (const DimResult& r : results)
    if (r.scored)
      std::cout << fmt::format("dim {}: L2-UVP fwd {:.2f} % inv {:.2f} % (identity {:.1f} %)\n", r.dim, r.l2uvp_fwd,
                               r.l2uvp_inv, r.l2uvp_identity);
  for (const DimResult& r : results)
    if (r.diverged) return kExitDiverged;
  return tools::kExitOk;
}

}  // namespace brenier::diotm_tool
