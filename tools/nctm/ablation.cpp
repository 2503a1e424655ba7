// nctm ablation: the paper's ablation (its Table 1's rows, spec §5.2) on the conditional Gaussian benchmark
// of `gaussian`, at one dimension and one budget: the reference model (hypernetwork, positional encoding,
// pre-training, separate encoders) and one change per row. One table in results.md / results.json, the
// paper's qualitative claim beside each row (its numbers are on data not public here). With --seeds the rows
// are repeated per seed and the table shows mean ± std over seeds and which gaps exceed their spread.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iostream>

#include "tools/common/cli.h"
#include "tools/common/results.h"
#include "tools/nctm/tool.h"

namespace brenier::nctm_tool {
namespace {

constexpr const char* kExperiment = "ablation";

struct Variant {
  const char* label;
  const char* change;
  const char* paper;  // the paper's claim about this change (spec §5.2)
  void (*apply)(CommonOptions&);
};

const std::vector<Variant>& variants() {
  static const std::vector<Variant> v{
      {"reference", "hypernet, positional, pre-training, separate encoders", "best configuration", [](CommonOptions&) {}},
      {"concat", "conditioning by concatenation", "hypernetwork > concatenation",
       [](CommonOptions& o) { o.conditioning = "concat"; }},
      {"film", "conditioning by FiLM", "hypernetwork > FiLM", [](CommonOptions& o) { o.conditioning = "film"; }},
      {"scalar", "scalar encoding of s", "positional > scalar (IAM rho 0.942 -> 0.305)",
       [](CommonOptions& o) { o.encoding = "scalar"; }},
      {"fourier", "Fourier-feature encoding of s", "positional / Fourier > scalar",
       [](CommonOptions& o) { o.encoding = "fourier"; }},
      {"no-pretrain", "no identity pre-training", "pre-training helps (climate W 0.214 -> 0.170)",
       [](CommonOptions& o) { o.pretrain_steps = 0; }},
      {"shared", "one encoder shared by T and f", "separate encoders > shared",
       [](CommonOptions& o) { o.shared_encoder = true; }},
  };
  return v;
}

// Over seeds, per column: mean, sample std, min, max.
struct Spread {
  double mean = 0, std = 0, min = 0, max = 0;
  nlohmann::json json() const { return {{"mean", mean}, {"std", std}, {"min", min}, {"max", max}}; }
  std::string cell() const { return fmt::format("{:.2f} ± {:.2f}", mean, std); }
};

Spread spread(const std::vector<double>& v) {
  Spread sp;
  sp.min = *std::min_element(v.begin(), v.end());
  sp.max = *std::max_element(v.begin(), v.end());
  for (double x : v) sp.mean += x;
  sp.mean /= static_cast<double>(v.size());
  for (double x : v) sp.std += (x - sp.mean) * (x - sp.mean);
  sp.std = v.size() > 1 ? std::sqrt(sp.std / static_cast<double>(v.size() - 1)) : 0.0;
  return sp;
}

// A gap exceeds the seed-to-seed spread when the variant's [min, max] over seeds and the reference's do not
// overlap (every seed of one is better than every seed of the other; with 3 seeds, conservative).
bool beyond_spread(const Spread& a, const Spread& ref) { return a.min > ref.max || a.max < ref.min; }

const char* kColumns[] = {"seen", "unseen", "beyond"};

std::vector<double> column_of(const std::vector<RunResult>& runs, int column) {
  std::vector<double> v;
  for (const RunResult& r : runs)
    v.push_back(column == 0 ? r.seen.l2uvp : column == 1 ? r.unseen.l2uvp : r.beyond.l2uvp);
  return v;
}

void write_results(const fs::path& out, const CommonOptions& opt, const std::vector<uint64_t>& seeds,
                   const std::vector<std::vector<RunResult>>& results, bool done) {
  nlohmann::json rows = nlohmann::json::array();
  for (size_t i = 0; i < results.size(); ++i)
    for (size_t s = 0; s < results[i].size(); ++s) {
      nlohmann::json j = results[i][s].json();
      j["variant"] = variants()[i].label;
      j["seed"] = seeds[s];
      j["change"] = variants()[i].change;
      j["paper"] = variants()[i].paper;
      rows.push_back(j);
    }
  nlohmann::json results_j{{"tool", "nctm"},     {"experiment", kExperiment}, {"status", done ? "done" : "running"},
                           {"options", common_json(opt)}, {"dim", opt.dims[0]}, {"seeds", seeds},
                           {"results", rows}};
  std::string table_md;
  if (seeds.size() == 1) {
    tools::Table table(
        {"variant", "change", "seen L2-UVP %", "unseen (between) %", "beyond %", "seconds", "paper's claim"}, 2);
    for (size_t i = 0; i < results.size() && !results[i].empty(); ++i) {
      const RunResult& r = results[i][0];
      const Variant& v = variants()[i];
      if (r.scored)
        table.add_row({std::string(v.label), std::string(v.change), r.seen.l2uvp, r.unseen.l2uvp, r.beyond.l2uvp,
                       r.seconds, std::string(v.paper)});
      else
        table.add_row({std::string(v.label), std::string(v.change), std::string("diverged"), std::string("-"),
                       std::string("-"), r.seconds, std::string(v.paper)});
    }
    table_md = table.to_markdown();
  } else {
    // Mean ± std over seeds per column; a gap to the reference is named when it exceeds the spread.
    tools::Table table({"variant", "change", "seen L2-UVP %", "unseen (between) %", "beyond %", "seconds (mean)",
                        "gap to reference beyond seed spread", "paper's claim"},
                       2);
    nlohmann::json summary = nlohmann::json::array();
    std::vector<Spread> reference;
    for (size_t i = 0; i < results.size(); ++i) {
      const Variant& v = variants()[i];
      const std::vector<RunResult>& runs = results[i];
      bool all_scored = runs.size() == seeds.size();
      double seconds = 0;
      for (const RunResult& r : runs) {
        all_scored = all_scored && r.scored;
        seconds += r.seconds;
      }
      if (!runs.empty()) seconds /= static_cast<double>(runs.size());
      if (!all_scored) {
        const bool failed = std::any_of(runs.begin(), runs.end(), [](const RunResult& r) { return !r.scored; });
        const std::string state = failed ? "diverged (a seed)" : "running";
        table.add_row({std::string(v.label), std::string(v.change), state, std::string("-"), std::string("-"),
                       seconds, std::string("-"), std::string(v.paper)});
        summary.push_back({{"variant", v.label}, {"complete", false}});
        continue;
      }
      std::vector<Spread> cols;
      nlohmann::json sj{{"variant", v.label}, {"complete", true}, {"seconds_mean", seconds}};
      for (int c = 0; c < 3; ++c) {
        cols.push_back(spread(column_of(runs, c)));
        sj[kColumns[c]] = cols.back().json();
      }
      if (i == 0) reference = cols;
      std::string gaps;
      nlohmann::json gap_j = nlohmann::json::object();
      for (int c = 0; c < 3 && i > 0 && !reference.empty(); ++c) {
        const bool beyond = beyond_spread(cols[static_cast<size_t>(c)], reference[static_cast<size_t>(c)]);
        gap_j[kColumns[c]] = beyond;
        if (beyond)
          gaps += fmt::format("{}{} {}", gaps.empty() ? "" : ", ", kColumns[c],
                              cols[static_cast<size_t>(c)].mean > reference[static_cast<size_t>(c)].mean ? "worse"
                                                                                                         : "better");
      }
      if (i > 0) sj["gap_beyond_spread"] = gap_j;
      summary.push_back(sj);
      table.add_row({std::string(v.label), std::string(v.change), cols[0].cell(), cols[1].cell(), cols[2].cell(),
                     seconds, i == 0 ? std::string("(reference)") : gaps.empty() ? std::string("none") : gaps,
                     std::string(v.paper)});
    }
    results_j["summary"] = summary;
    table_md = table.to_markdown();
  }
  tools::write_json(out / "results.json", results_j);
  std::string seeds_text;
  for (uint64_t s : seeds) seeds_text += (seeds_text.empty() ? "" : ", ") + std::to_string(s);
  std::string md = fmt::format(
      "# nctm ablation\n\n"
      "The paper's ablation rows (spec §5.2) on the conditional Gaussian benchmark of `nctm gaussian` at d = {}:\n"
      "one change per row from the reference model, same budget ({} pre-training, {} warm-up, {} alternating\n"
      "steps, batch {}, {} cost, seed{} {}). L2-UVP (%) against the per-condition Bures maps, mean over conditions.\n"
      "The paper's claims are qualitative here: its numbers are on climate / IAM data that are not public.\n\n",
      opt.dims[0], opt.pretrain_steps, opt.warmup_steps, opt.iters, opt.batch, opt.cost, seeds.size() > 1 ? "s" : "",
      seeds_text);
  if (seeds.size() > 1)
    md += fmt::format(
        "Each variant trained once per seed (a seed draws the family, the initial weights, the batches and the\n"
        "evaluation points); cells are mean ± sample std over the {} seeds. A gap to the reference is named in\n"
        "its column when it exceeds the seed-to-seed spread: the variant's [min, max] over seeds and the\n"
        "reference's do not overlap.\n\n",
        seeds.size());
  md += table_md + "\n";
  if (!done) md += "\n(run in progress)\n";
  tools::write_text(out / "results.md", md);
}

}  // namespace

int run_ablation(const AblationOptions& options) {
  CommonOptions opt = options.common;
  validate_common(opt);
  BRENIER_CHECK(opt.dims.size() == 1, "--dims: the ablation runs at one dimension, got {}", opt.dims.size());
  std::vector<uint64_t> seeds = options.seeds;
  for (size_t i = 0; i < seeds.size(); ++i)
    for (size_t j = 0; j < i; ++j) BRENIER_CHECK(seeds[j] != seeds[i], "--seeds: seed {} is listed twice", seeds[i]);
  if (seeds.empty()) seeds = {opt.seed};
  opt.seed = seeds.front();  // recorded as "seed"; "seeds" holds them all
  // One seed keeps the run labels (and so checkpoints) of single-seed runs; several add "-seed<s>".
  auto label_of = [&](const Variant& v, uint64_t seed) {
    return seeds.size() == 1 ? std::string(v.label) : fmt::format("{}-seed{}", v.label, seed);
  };
  if (opt.out.empty()) opt.out = tools::make_run_dir("runs", "nctm", kExperiment);
  nlohmann::json options_j = common_json(opt);
  options_j["seeds"] = seeds;
  prepare_run_folder(opt, opt.out, options_j,
                     {"dims", "iters", "pretrain_steps", "warmup_steps", "batch", "map_steps", "map_lr", "critic_lr", "critic_magnitude",
                      "weight_decay", "position_scale", "width", "classes", "eval_samples", "seed", "seeds"},
                     kExperiment, {{"seeds", seeds}});
  tools::write_json(opt.out / "config.json", {{"tool", "nctm"}, {"experiment", kExperiment}, {"options", options_j}});
  std::vector<std::vector<RunResult>> results(variants().size());
  bool diverged = false;
  for (size_t i = 0; i < variants().size(); ++i) {
    const Variant& v = variants()[i];
    for (uint64_t seed : seeds) {
      CommonOptions o = opt;
      o.seed = seed;
      o.conditioning = "hypernet";
      o.encoding = "positional";
      o.shared_encoder = false;
      v.apply(o);
      results[i].push_back(train_and_score(o, solver_config(o, o.dims[0]), o.dims[0], label_of(v, seed), opt.out));
      diverged = diverged || results[i].back().diverged;
      write_results(opt.out, opt, seeds, results, false);
    }
  }
  write_results(opt.out, opt, seeds, results, true);
  std::cout << "results in " << opt.out.string() << " (results.md, results.json)\n";
  for (size_t i = 0; i < results.size(); ++i)
    for (size_t s = 0; s < results[i].size(); ++s)
      if (results[i][s].scored)
        std::cout << fmt::format("{:12s} seed {} seen {:.2f} %  unseen {:.2f} %  beyond {:.2f} %\n", variants()[i].label,
                                 seeds[s], results[i][s].seen.l2uvp, results[i][s].unseen.l2uvp,
                                 results[i][s].beyond.l2uvp);
  if (diverged) {
    std::cerr << "error: a variant diverged (see metrics.jsonl)\n";
    return kExitDiverged;
  }
  return tools::kExitOk;
}

}  // namespace brenier::nctm_tool
