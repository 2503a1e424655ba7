// diotm gaussian --problem w2bench: DIOTM on the continuous W2 benchmark's Mix3toMix10 pairs (Korotin et al.,
// NeurIPS 2021; ot/benchmarks/w2bench.h), the non-Gaussian half of the issue's `gaussian` experiment. Per dimension
// DIOTM is trained from the benchmark's source mixture μ to ν = ∇ψ#μ (every target batch is ∇ψ of fresh μ samples)
// and its forward map T→ is scored against T* = ∇ψ on fresh pairs (x, ∇ψ(x)) with the benchmark's L2-UVP
// (normalized by Var(ν) = D, ot/metrics/w2bench_metrics.h), the metric the `w2bench` tool reports for the ICNN
// solvers. The forward direction is what the issue asks for; T← is scored too (on y = ∇ψ(x) against x, as the
// benchmark does) because DIOTM trains it anyway. The identity and linear (fitted Bures map) baselines are the
// benchmark's own, on the same evaluation pairs.
#include <fmt/format.h>

#include <cmath>
#include <iostream>

#include "ot/benchmarks/w2bench.h"
#include "ot/metrics/l2_uvp.h"
#include "ot/metrics/w2bench_metrics.h"
#include "tools/common/cli.h"
#include "tools/common/results.h"
#include "tools/common/shared_data.h"
#include "tools/diotm/tool.h"

namespace brenier::diotm_tool {
namespace {

constexpr const char* kExperiment = "w2bench";
// Pairs the linear baseline is fitted on (the w2bench tool's count, shared/data/w2bench/README.md "Metrics").
constexpr int64_t kBaselineFitSamples = int64_t{1} << 14;

struct PairResult {
  int64_t dim = 0, iters = 0;
  double seconds = 0, seconds_per_step = 0;
  bool diverged = false, resumed = false, scored = false;
  std::string error;
  ot::MapScores scores{NAN, NAN, NAN, NAN};
  ot::BaselineScores baselines{};
  double cost_fwd = NAN, cost_exact = NAN;
};

nlohmann::json options_json(const GaussianOptions& opt, const std::string& shared_dir) {
  nlohmann::json j = common_json(opt.common);
  j["problem"] = opt.problem;
  j["dims"] = opt.dims;
  j["eval_samples"] = opt.eval_samples;
  j["shared"] = shared_dir;
  return j;
}

std::string unit_name(int64_t dim) { return fmt::format("w2bench-dim{}", dim); }

PairResult run_pair(const GaussianOptions& opt, const ot::W2Benchmark& bench, const fs::path& out) {
  PairResult r;
  r.dim = bench.dim();
  const std::string name = unit_name(r.dim);
  // ν's samples are ∇ψ of fresh μ samples: T*#μ = ν by construction (w2bench.h).
  Unit unit{name, solver_config(opt.common, r.dim),
            [&](int64_t n, Generator& g) { return bench.sample_source(n, g); },
            [&](int64_t n, Generator& g) { return bench.map(bench.sample_source(n, g)); }};
  UnitResult trained = train_unit(opt.common, opt.common.iters, unit, out);
  r.iters = trained.iters;
  r.seconds = trained.seconds;
  r.seconds_per_step = trained.seconds_per_step;
  r.diverged = trained.diverged;
  r.resumed = trained.resumed;
  r.error = trained.error;
  Generator eval_gen = stream(opt.common.seed, unit_id(name), Stream::Evaluation);
  const ot::W2Benchmark::Pair eval = bench.sample_pair(opt.eval_samples, eval_gen);
  // The baselines are fitted on their own pairs (the Problem stream: this problem draws nothing else).
  Generator fit_gen = stream(opt.common.seed, unit_id(name), Stream::Problem);
  r.baselines = ot::score_baselines(bench, kBaselineFitSamples, eval, fit_gen);
  r.cost_exact = ot::l2_uvp(eval.x, eval.y, 100.0);  // E‖∇ψ(x) − x‖² = W2²(μ, ν) (Brenier), on the eval pairs
  if (!trained.solver) return r;
  const Tensor fwd = trained.solver->transport(eval.x), inv = trained.solver->inverse_transport(eval.y);
  r.scores = ot::score_maps(bench, eval, fwd, inv);
  r.cost_fwd = ot::l2_uvp(fwd, eval.x, 100.0);  // mean ‖T→(x) − x‖² (l2_uvp with "variance" 100 is the plain mean)
  r.scored = true;
  tools::append_jsonl(out / "metrics.jsonl", {{"unit", name},
                                               {"step", r.iters},
                                               {"event", "scored"},
                                               {"l2uvp_fwd", r.scores.l2uvp_fwd},
                                               {"l2uvp_inv", r.scores.l2uvp_inv},
                                               {"cos_fwd", r.scores.cos_fwd}});
  return r;
}

std::string num(double v, int decimals = 2) { return std::isfinite(v) ? fmt::format("{:.{}f}", v, decimals) : "n/a"; }

void write_results(const fs::path& out, const GaussianOptions& opt, const nlohmann::json& options_j,
                   const std::vector<PairResult>& results, bool done) {
  nlohmann::json per_dim = nlohmann::json::object();
  tools::Table table({"dim", "iters", "L2-UVP fwd %", "cos fwd", "L2-UVP inv %", "identity fwd %", "linear fwd %",
                      "W2² (E‖∇ψ(x)−x‖²)", "E‖T→(x)−x‖²", "s/step", "status"});
  for (const PairResult& r : results) {
    nlohmann::json j{{"dim", r.dim},
                     {"iters", r.iters},
                     {"seconds", r.seconds},
                     {"seconds_per_step", r.seconds_per_step},
                     {"diverged", r.diverged},
                     {"resumed", r.resumed},
                     {"w2_squared", r.cost_exact},
                     {"baselines",
                      {{"identity", {{"l2uvp_fwd", r.baselines.identity.l2uvp_fwd},
                                     {"l2uvp_inv", r.baselines.identity.l2uvp_inv}}},
                       {"linear", {{"l2uvp_fwd", r.baselines.linear.l2uvp_fwd},
                                   {"l2uvp_inv", r.baselines.linear.l2uvp_inv},
                                   {"cos_fwd", r.baselines.linear.cos_fwd}}}}}};
    if (r.diverged) j["error"] = r.error;
    if (r.scored)
      j.update({{"l2uvp_fwd", r.scores.l2uvp_fwd},
                {"cos_fwd", r.scores.cos_fwd},
                {"l2uvp_inv", r.scores.l2uvp_inv},
                {"cos_inv", r.scores.cos_inv},
                {"transport_cost_fwd", r.cost_fwd}});
    per_dim[std::to_string(r.dim)] = j;
    table.add_row({r.dim, r.iters, num(r.scores.l2uvp_fwd), num(r.scores.cos_fwd, 3), num(r.scores.l2uvp_inv),
                   num(r.baselines.identity.l2uvp_fwd), num(r.baselines.linear.l2uvp_fwd), num(r.cost_exact, 3),
                   num(r.cost_fwd, 3), num(r.seconds_per_step, 4),
                   std::string(r.diverged ? "diverged" : (r.scored ? "ok" : "not scored"))});
  }
  tools::write_json(out / "results.json", {{"tool", "diotm"},
                                           {"experiment", kExperiment},
                                           {"status", done ? "done" : "running"},
                                           {"config", options_j},
                                           {"results", per_dim}});
  std::string md = fmt::format(
      "# diotm gaussian --problem w2bench: DIOTM on the W2 benchmark's Mix3toMix10 pairs\n\n"
      "Status: {}. Seed {}, {} steps per dimension. Each dimension's pair is the benchmark's (Korotin et al., "
      "NeurIPS 2021): μ = its 3-Gaussian source mixture, ν = ∇ψ#μ (training target batches are ∇ψ of fresh μ "
      "samples). L2-UVP fwd = 100·E‖T→(x) − ∇ψ(x)‖²/Var(ν) with Var(ν) = D, on {} fresh pairs (x, ∇ψ(x)) — "
      "the benchmark's metric, as the `w2bench` tool computes it. **The forward direction is the one the issue "
      "asks for**; the inverse T← is scored on y = ∇ψ(x) against x (normalized by Var(μ) = D) for "
      "completeness. cos fwd = the benchmark's cosine between T→(x) − x and ∇ψ(x) − x. \"identity\" and "
      "\"linear\" are the benchmark's baselines on the same pairs (linear: the Bures map between Gaussians "
      "fitted to {} other pairs) — the bar a non-linear solver has to beat.\n\n{}\n{}",
      done ? "done" : "running", opt.common.seed, opt.common.iters, opt.eval_samples, kBaselineFitSamples,
      table.to_markdown(),
      choices_markdown(opt.common, solver_config(opt.common, opt.dims.empty() ? 2 : opt.dims.front())));
  for (const PairResult& r : results)
    if (r.diverged) md += fmt::format("\n**dim {} diverged**: {}\n", r.dim, r.error);
  tools::write_text(out / "results.md", md);
}

}  // namespace

int run_w2bench_pairs(const GaussianOptions& options) {
  GaussianOptions opt = options;
  // Every dimension's data is loaded before the run folder is made, so a missing or incomplete export fails
  // at once (naming the path) and creates nothing.
  const std::string found = tools::resolve_shared_dir(opt.shared, "data/w2bench", "diotm gaussian --problem w2bench");
  const std::string shared_dir = fs::absolute(found).lexically_normal().string();
  std::vector<ot::W2Benchmark> benches;
  for (int64_t dim : opt.dims) benches.push_back(ot::load_w2bench(dim, shared_dir));
  // On a GPU the target sampler's ∇ψ (two ICNN gradients per batch) runs there too; sampling stays on the host.
  const Device device = solver_config(opt.common, opt.dims.front()).device;
  for (ot::W2Benchmark& bench : benches) bench.to(device);
  if (opt.common.out.empty()) opt.common.out = tools::make_run_dir("runs", "diotm", kExperiment);
  const fs::path out = opt.common.out;
  const nlohmann::json options_j = options_json(opt, shared_dir);
  prepare_run_folder(opt.common, out, options_j,
                     {"problem", "batch", "alpha", "regularizer", "hjb_norm", "lambda", "kv", "kt", "lr_map",
                      "lr_potential", "seed", "eval_samples"},
                     kExperiment);
  tools::write_json(out / "config.json", {{"tool", "diotm"}, {"experiment", kExperiment}, {"options", options_j}});
  std::vector<PairResult> results;
  for (const ot::W2Benchmark& bench : benches) {
    results.push_back(run_pair(opt, bench, out));
    write_results(out, opt, options_j, results, false);
  }
  write_results(out, opt, options_j, results, true);
  std::cout << "results in " << out.string() << " (results.md, results.json)\n";
  for (const PairResult& r : results)
    if (r.scored)
      std::cout << fmt::format(
          "w2bench dim {}: L2-UVP fwd {:.2f} % (inv {:.2f} %; identity {:.1f} %, linear {:.2f} %)\n", r.dim,
          r.scores.l2uvp_fwd, r.scores.l2uvp_inv, r.baselines.identity.l2uvp_fwd, r.baselines.linear.l2uvp_fwd);
  for (const PairResult& r : results)
    if (r.diverged) return kExitDiverged;
  return tools::kExitOk;
}

}  // namespace brenier::diotm_tool
