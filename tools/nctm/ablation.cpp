// nctm ablation: the paper's ablation (its Table 1's rows, spec §5.2) on the conditional Gaussian benchmark
// of `gaussian`, at one dimension and one budget: the reference model (hypernetwork, positional encoding,
// pre-training, separate encoders) and one change per row. One table in results.md / results.json, the
// paper's qualitative claim beside each row (its numbers are on data not public here).
#include <fmt/format.h>

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

void write_results(const fs::path& out, const CommonOptions& opt, const std::vector<RunResult>& results, bool done) {
  tools::Table table({"variant", "change", "seen L2-UVP %", "unseen (between) %", "beyond %", "seconds", "paper's claim"},
                     2);
  nlohmann::json rows = nlohmann::json::array();
  for (size_t i = 0; i < results.size(); ++i) {
    const RunResult& r = results[i];
    const Variant& v = variants()[i];
    nlohmann::json j = r.json();
    j["change"] = v.change;
    j["paper"] = v.paper;
    rows.push_back(j);
    if (r.scored)
      table.add_row({std::string(v.label), std::string(v.change), r.seen.l2uvp, r.unseen.l2uvp, r.beyond.l2uvp,
                     r.seconds, std::string(v.paper)});
    else
      table.add_row({std::string(v.label), std::string(v.change), std::string("diverged"), std::string("-"),
                     std::string("-"), r.seconds, std::string(v.paper)});
  }
  tools::write_json(out / "results.json", {{"tool", "nctm"},
                                           {"experiment", kExperiment},
                                           {"status", done ? "done" : "running"},
                                           {"options", common_json(opt)},
                                           {"dim", opt.dims[0]},
                                           {"results", rows}});
  std::string md = fmt::format(
      "# nctm ablation\n\n"
      "The paper's ablation rows (spec §5.2) on the conditional Gaussian benchmark of `nctm gaussian` at d = {}:\n"
      "one change per row from the reference model, same budget ({} pre-training, {} warm-up, {} alternating\n"
      "steps, batch {}, seed {}). L2-UVP (%) against the per-condition Bures maps, mean over conditions. The\n"
      "paper's claims are qualitative here: its numbers are on climate / IAM data that are not public.\n\n{}\n",
      opt.dims[0], opt.pretrain_steps, opt.warmup_steps, opt.iters, opt.batch, opt.seed, table.to_markdown());
  if (!done) md += "\n(run in progress)\n";
  tools::write_text(out / "results.md", md);
}

}  // namespace

int run_ablation(const AblationOptions& options) {
  CommonOptions opt = options.common;
  validate_common(opt);
  BRENIER_CHECK(opt.dims.size() == 1, "--dims: the ablation runs at one dimension, got {}", opt.dims.size());
  if (opt.out.empty()) opt.out = tools::make_run_dir("runs", "nctm", kExperiment);
  const nlohmann::json options_j = common_json(opt);
  prepare_run_folder(opt, opt.out, options_j,
                     {"dims", "iters", "pretrain_steps", "warmup_steps", "batch", "map_steps", "map_lr", "critic_lr", "critic_magnitude",
                      "weight_decay", "position_scale", "width", "classes", "eval_samples", "seed"},
                     kExperiment);
  tools::write_json(opt.out / "config.json", {{"tool", "nctm"}, {"experiment", kExperiment}, {"options", options_j}});
  std::vector<RunResult> results;
  bool diverged = false;
  for (const Variant& v : variants()) {
    CommonOptions o = opt;
    o.conditioning = "hypernet";
    o.encoding = "positional";
    o.shared_encoder = false;
    v.apply(o);
    results.push_back(train_and_score(o, solver_config(o, o.dims[0]), o.dims[0], v.label, opt.out));
    diverged = diverged || results.back().diverged;
    write_results(opt.out, opt, results, false);
  }
  write_results(opt.out, opt, results, true);
  std::cout << "results in " << opt.out.string() << " (results.md, results.json)\n";
  for (size_t i = 0; i < results.size(); ++i)
    if (results[i].scored)
      std::cout << fmt::format("{:12s} seen {:.2f} %  unseen {:.2f} %  beyond {:.2f} %\n", variants()[i].label,
                               results[i].seen.l2uvp, results[i].unseen.l2uvp, results[i].beyond.l2uvp);
  if (diverged) {
    std::cerr << "error: a variant diverged (see metrics.jsonl)\n";
    return kExitDiverged;
  }
  return tools::kExitOk;
}

}  // namespace brenier::nctm_tool
