// `w2bench aggregate RUN...`: mean ± std over several finished runs (seeds, machines) of one solver, per
// dimension, next to the paper's MM-B mean ± std — the like-for-like comparison a single run cannot give.
// Reads each run's results.json; runs must share the solver, iterations, batch and potential settings.
#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <map>

#include "tools/common/cli.h"
#include "tools/common/results.h"
#include "tools/w2bench/tool.h"

namespace brenier::w2bench_tool {
namespace {

struct Spread {
  double mean = 0, std = 0;  // sample std (n − 1); 0 for one value
  int64_t n = 0;
};

Spread spread(const std::vector<double>& v) {
  Spread s;
  s.n = static_cast<int64_t>(v.size());
  if (v.empty()) return s;
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  if (v.size() > 1) {
    double ss = 0;
    for (double x : v) ss += (x - s.mean) * (x - s.mean);
    s.std = std::sqrt(ss / static_cast<double>(v.size() - 1));
  }
  return s;
}

nlohmann::json read_results(const fs::path& run) {
  const fs::path file = run / "results.json";
  BRENIER_CHECK(fs::is_regular_file(file), "aggregate: run folder '{}' holds no results.json (a finished w2bench run)",
                run.string());
  try {
    std::ifstream in(file);
    nlohmann::json j = nlohmann::json::parse(in);
    (void)j.at("config").at("options").at("solver");
    (void)j.at("results");
    return j;
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("aggregate: '{}' is not a w2bench results.json: {}", file.string(), e.what()));
  }
}

// The options that must agree for the runs to be repeats of one experiment (seed and dims may differ).
nlohmann::json experiment_key(const nlohmann::json& options) {
  nlohmann::json key;
  for (const char* k : {"solver", "iters", "batch", "pretrain", "strong_convexity", "cosine_decay"})
    key[k] = options.contains(k) ? options[k] : nlohmann::json(nullptr);
  // Runs written before these options existed ran the defaults.
  if (key["strong_convexity"].is_null()) key["strong_convexity"] = 1e-4;
  if (key["cosine_decay"].is_null()) key["cosine_decay"] = false;
  return key;
}

std::string verdict(double ours, const nlohmann::json& paper) {
  const double mean = paper.at("mean").get<double>(), std = paper.at("std").get<double>();
  if (ours < mean - 3 * std) return "better";
  if (ours <= mean + 3 * std) return "within ±3σ";
  return "worse";
}

}  // namespace

int run_aggregate(const AggregateOptions& options) {
  BRENIER_CHECK(!options.runs.empty(), "aggregate: give at least one run folder");
  nlohmann::json key;
  std::vector<uint64_t> seeds;
  // dim → metric → values; dim → the paper's entry (identical in every run).
  std::map<int64_t, std::map<std::string, std::vector<double>>> values;
  std::map<int64_t, nlohmann::json> paper;
  for (const fs::path& run : options.runs) {
    const nlohmann::json results = read_results(run);
    const nlohmann::json& opts = results["config"]["options"];
    const nlohmann::json this_key = experiment_key(opts);
    if (key.is_null()) key = this_key;
    BRENIER_CHECK(this_key == key,
                  "aggregate: run '{}' is a different experiment ({}) from the first one ({}); aggregate repeats of "
                  "one setting only",
                  run.string(), this_key.dump(), key.dump());
    seeds.push_back(opts.value("seed", uint64_t{0}));
    for (const nlohmann::json& r : results["results"]) {
      if (r.value("status", "") != "done") continue;  // a diverged dim is reported by its own run
      const int64_t dim = r.at("dim").get<int64_t>();
      for (const char* m : {"l2uvp_fwd", "l2uvp_inv", "cos_fwd", "cos_inv"}) values[dim][m].push_back(r.at(m));
      if (r.contains("paper_mmb")) paper[dim] = r["paper_mmb"];
    }
  }
  BRENIER_CHECK(!values.empty(), "aggregate: none of the runs has a finished dimension");

  tools::Table table({"dim", "runs", "ours fwd (mean ± std)", "paper MM-B fwd (mean ± std)", "fwd mean vs paper",
                      "ours inv (mean ± std)", "paper MM-B inv (mean ± std)", "inv mean vs paper", "ours cos fwd",
                      "ours cos inv"},
                     3);
  nlohmann::json per_dim = nlohmann::json::array();
  for (const auto& [dim, metrics] : values) {
    const Spread fwd = spread(metrics.at("l2uvp_fwd")), inv = spread(metrics.at("l2uvp_inv"));
    const Spread cf = spread(metrics.at("cos_fwd")), ci = spread(metrics.at("cos_inv"));
    const bool has_paper = paper.count(dim) > 0;
    auto pm = [&](const char* m) {
      return has_paper ? fmt::format("{:.2f} ± {:.2f}", paper[dim][m]["mean"].get<double>(),
                                     paper[dim][m]["std"].get<double>())
                       : std::string("—");
    };
    table.add_row({dim, fwd.n, fmt::format("{:.2f} ± {:.2f}", fwd.mean, fwd.std), pm("l2uvp_fwd"),
                   has_paper ? verdict(fwd.mean, paper[dim]["l2uvp_fwd"]) : "—",
                   fmt::format("{:.2f} ± {:.2f}", inv.mean, inv.std), pm("l2uvp_inv"),
                   has_paper ? verdict(inv.mean, paper[dim]["l2uvp_inv"]) : "—", cf.mean, ci.mean});
    nlohmann::json entry = {{"dim", dim}, {"runs", fwd.n}};
    for (const auto& [m, v] : metrics) {
      const Spread s = spread(v);
      entry[m] = {{"mean", s.mean}, {"std", s.std}, {"values", v}};
    }
    if (has_paper) entry["paper_mmb"] = paper[dim];
    per_dim.push_back(entry);
  }
  const std::string md = fmt::format(
      "# w2bench aggregate: {} runs of solver {} ({} iterations, seeds {})\n\n{}\nOurs: mean ± sample std over "
      "the runs. The paper columns are NOT ours: the HOTET paper's published MM-B mean ± std (Table I), whose "
      "spread may not be across independent seeds. \"vs paper\" compares our mean with the paper's mean ± 3·std.\n",
      options.runs.size(), key["solver"].get<std::string>(), key["iters"].dump(), fmt::join(seeds, ", "),
      table.to_markdown());
  std::cout << md;
  if (!options.out.empty()) {
    std::error_code ec;
    fs::create_directories(options.out, ec);
    BRENIER_CHECK(!ec, "--out: cannot create '{}': {}", options.out.string(), ec.message());
    std::vector<std::string> runs;
    for (const fs::path& r : options.runs) runs.push_back(r.string());
    tools::write_json(options.out / "aggregate.json",
                      {{"tool", "w2bench aggregate"}, {"experiment", key}, {"runs", runs}, {"seeds", seeds},
                       {"results", per_dim}});
    tools::write_text(options.out / "aggregate.md", md);
  }
  return tools::kExitOk;
}

}  // namespace brenier::w2bench_tool
