// diotm: DIOTM, neural optimal transport through displacement interpolation with an HJB regularizer
// (Choi, Chen & Choi, ICLR 2025, arXiv 2410.03783; spec/algorithms.md §4), one subcommand per experiment:
//
//   diotm gaussian --dims 2,4,8 --out runs/g [--iters N] [--regularizer hjb|r1|none] [--resume]
//   diotm gaussian --problem w2bench --dims 2,4,8,16,32,64 --out runs/w   (the W2 benchmark's pairs, forward map)
//   diotm toy --dataset 8g,25g,moon-spiral,circles --variants hjb,r1,none --out runs/t
//   diotm lambda --dataset 8g --lambdas 0,0.01,0.1,1,10 --out runs/l
//   diotm translate --from sneaker --to "ankle boot" --out runs/tr   (Fashion-MNIST, conv networks)
//
// This file only parses the command line; the work is in gaussian.cpp, w2bench_pairs.cpp, toy.cpp, translate.cpp
// and common.cpp.
#include <fmt/format.h>


#include "tools/common/cli.h"
#include "tools/common/stop_signal.h"
#include "tools/diotm/tool.h"

using namespace brenier;
using namespace brenier::diotm_tool;

namespace {

// Default budgets (see docs/diotm.md for the measured times and scores at these settings).
constexpr int64_t kGaussianIters = 4000;
constexpr int64_t kToyIters = 4000;
constexpr int64_t kDefaultBatch = 256;
// translate: steps and images per side per update at which a run takes ~20 min on 2 cores (docs/diotm.md).
constexpr int64_t kTranslateIters = 1500;
constexpr int64_t kTranslateBatch = 64;

const char* kChoices =
    "Choices (spec/algorithms.md §4; the paper's text and code are not available, so the objective is §4.2's "
    "derivation):\n"
    "  cost alpha*|x-y|^2, alpha = 1/2 by default (§4.2); HJB residual d_t V + |grad_x V|^2/(4 alpha), both "
    "derivatives\n"
    "  by autodiff, then differentiated w.r.t. the potential's weights.\n"
    "  time sampling: t ~ U[0,1] independently per point, for the x side and the y side separately, fresh every "
    "update.\n"
    "  regularizer: hjb = mean |residual| (--hjb-norm abs, the spec's form) or mean residual^2 (squared); r1 = "
    "mean 1/2|grad_x V|^2\n"
    "  at the interpolated points; none = the paper's ablation. --lambda 0.1 is ours (the spec has no value).\n"
    "  K_V = K_T = 1, Adam betas (0.5, 0.9), lr maps 1.6e-4, lr potential 1e-4 (§4.2); maps x + MLP(x) 256x3 SiLU,\n"
    "  potential MLP on [x, 128-d sinusoidal(t)] 128x3 SiLU (§4.3); batch 256 per side (ours).\n";

struct CommonText {
  std::string out;
};

void add_common(CLI::App* cmd, CommonOptions& opt, CommonText& text, int64_t default_iters,
                int64_t default_batch = kDefaultBatch) {
  opt.iters = default_iters;
  opt.batch = default_batch;
  cmd->add_option("--iters", opt.iters, "training steps per run (one step = K_V potential + K_T map updates)")
      ->capture_default_str();
  cmd->add_option("--batch", opt.batch, "points per side per update (ours; not in the spec)")->capture_default_str();
  cmd->add_option("--regularizer", opt.regularizer, "hjb | r1 | none (spec §4.2; r1 and none: the paper's ablation)")
      ->check(CLI::IsMember({"hjb", "r1", "none"}))
      ->capture_default_str();
  cmd->add_option("--hjb-norm", opt.hjb_norm, "abs: mean |residual| (the spec's form); squared: mean residual^2")
      ->check(CLI::IsMember({"abs", "squared"}))
      ->capture_default_str();
  cmd->add_option("--lambda", opt.reg_weight, "regularizer weight (ours: 0.1; the spec gives none)")
      ->capture_default_str();
  cmd->add_option("--alpha", opt.alpha, "cost weight alpha in alpha*|x-y|^2 (§4.2: 1/2)")->capture_default_str();
  cmd->add_option("--kv", opt.potential_steps, "potential updates per step, K_V (§4.2: 1)")->capture_default_str();
  cmd->add_option("--kt", opt.map_steps, "map updates per step, K_T (§4.2: 1)")->capture_default_str();
  cmd->add_option("--lr-map", opt.map_lr, "Adam lr of both maps (§4.2: 1.6e-4)")->capture_default_str();
  cmd->add_option("--lr-potential", opt.potential_lr, "Adam lr of the potential (§4.2: 1e-4)")->capture_default_str();
  cmd->add_option("--checkpoint-every", opt.checkpoint_every,
                  "steps between checkpoints (and metrics.jsonl records); a resumed run continues from the last one")
      ->capture_default_str();
  cmd->add_option("--seed", opt.seed, "seeds the networks, the problems, batches, times and evaluation samples")
      ->capture_default_str();
  cmd->add_option("--out", text.out, "run folder (default: runs/diotm/<experiment>/<timestamp>)");
  cmd->add_flag("--resume", opt.resume,
                "continue the run in --out: finished runs are re-scored, unfinished ones continue from their "
                "checkpoint");
  cmd->add_option("--device", opt.device, "cpu, or cuda[:i] (needs a -Dcuda=enabled build and a GPU)")
      ->capture_default_str();
  cmd->add_flag("--quiet", opt.quiet, "no progress lines");
  cmd->footer(fmt::format(
      "{}\nWrites config.json, metrics.jsonl, results.json, results.md, checkpoints/ (and figures/ for toy, "
      "lambda) into --out.\nExit codes: 0 done, 2 bad input, {} a run diverged (its last good checkpoint is "
      "scored), 1 internal error, 130 / 143 stopped by Ctrl-C / SIGTERM after saving a checkpoint (continue with --resume).",
      kChoices, kExitDiverged));
}

std::vector<double> parse_doubles(const std::string& text, const char* flag) {
  std::vector<double> out;
  for (const std::string& item : tools::parse_name_list(text, flag)) {
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    BRENIER_CHECK(used == item.size() && used > 0, "{}: '{}' is not a number", flag, item);
    out.push_back(v);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "diotm: neural optimal transport via displacement interpolation with an HJB regularizer (DIOTM, arXiv "
      "2410.03783), one subcommand per experiment."};
  app.require_subcommand(1);

  GaussianOptions gauss;
  CommonText gauss_text;
  std::string gauss_dims = "2,4,8,16,32,64";
  CLI::App* gauss_cmd = app.add_subcommand(
      "gaussian", "Gaussian -> Gaussian per dimension; L2-UVP of both maps against the closed-form Bures map");
  add_common(gauss_cmd, gauss.common, gauss_text, kGaussianIters);
  gauss_cmd->add_option("--dims,--dim", gauss_dims, "comma-separated dimensions")->capture_default_str();
  gauss_cmd->add_option("--eval-samples", gauss.eval_samples, "fresh pairs scored (spec §0: 4096)")
      ->capture_default_str();
  gauss_cmd
      ->add_option("--problem", gauss.problem,
                   "gaussian: a random Gaussian pair per dim, both maps scored against the Bures map; w2bench: "
                   "the W2 benchmark's Mix3toMix10 pair per dim (source mixture -> grad psi of it, "
                   "../shared/data/w2bench; dims 2, 4, ..., 128), the forward map scored against grad psi (the "
                   "benchmark's L2-UVP, normalized by Var(nu)); the inverse is scored too, only the forward "
                   "direction is the issue's")
      ->check(CLI::IsMember({"gaussian", "w2bench"}))
      ->capture_default_str();
  gauss_cmd->add_option("--shared", gauss.shared,
                        "w2bench: shared data folder holding data/w2bench (default: $BRENIER_SHARED, else ../shared)");

  ToyOptions toy;
  CommonText toy_text;
  std::string toy_datasets = "8g,25g,moon-spiral,circles", toy_variants = "hjb,r1,none";
  CLI::App* toy_cmd = app.add_subcommand(
      "toy", "the paper's 2-D problems (spec §4.4): exact W2 of mapped samples, HJB vs R1 vs no regularizer");
  add_common(toy_cmd, toy.common, toy_text, kToyIters);
  toy_cmd->add_option("--dataset,--datasets", toy_datasets,
                      "comma-separated: 8g (G->8G), 25g (G->25G), moon-spiral (Moon->Spiral), circles (G->Circles)")
      ->capture_default_str();
  toy_cmd->add_option("--variants", toy_variants, "comma-separated regularizers to train: hjb, r1, none (replaces --regularizer)")
      ->capture_default_str();
  toy_cmd->add_option("--eval-samples", toy.eval_samples, "n of the exact W2 between n mapped and n target samples")
      ->capture_default_str();

  ToyOptions lam;
  CommonText lam_text;
  std::string lam_datasets = "8g", lam_values = "0,0.01,0.1,1,10";
  CLI::App* lam_cmd = app.add_subcommand(
      "lambda", "sensitivity of the toy W2 to the regularizer weight lambda (paper Table 3: HJB is insensitive)");
  add_common(lam_cmd, lam.common, lam_text, kToyIters);
  lam_cmd->add_option("--dataset,--datasets", lam_datasets, "comma-separated toy datasets (as for toy)")
      ->capture_default_str();
  lam_cmd->add_option("--lambdas", lam_values, "comma-separated regularizer weights")->capture_default_str();
  lam_cmd->add_option("--eval-samples", lam.eval_samples, "n of the exact W2 between n mapped and n target samples")
      ->capture_default_str();

  TranslateOptions tr;
  CommonText tr_text;
  tr.common.alpha = 1e-3;  // the image cost weight tau of spec §4.4
  CLI::App* tr_cmd = app.add_subcommand(
      "translate",
      "unpaired translation between two Fashion-MNIST classes with conv networks; classifier-feature FID (not "
      "Inception FID) and a PNG grid");
  add_common(tr_cmd, tr.common, tr_text, kTranslateIters, kTranslateBatch);
  tr_cmd->add_option("--from", tr.from, "source class: index 0..9 or name (e.g. sneaker, shirt)")->capture_default_str();
  tr_cmd->add_option("--to", tr.to, "target class: index 0..9 or name (e.g. \"ankle boot\", t-shirt)")
      ->capture_default_str();
  tr_cmd->add_option("--channels", tr.channels, "base channels of the conv map and potential (ours)")
      ->capture_default_str();
  tr_cmd->add_option("--train-images", tr.train_images, "training images per class (-1: all 6000)")
      ->capture_default_str();
  tr_cmd->add_option("--eval-images", tr.eval_images, "test images per class scored (all 1000 by default)")
      ->capture_default_str();
  tr_cmd->add_option("--classifier-images", tr.classifier_images, "training images of the FID classifier")
      ->capture_default_str();
  tr_cmd->add_option("--classifier-epochs", tr.classifier_epochs, "epochs of the FID classifier")
      ->capture_default_str();
  std::string tr_classifier = tr.classifier.string(), tr_data;
  tr_cmd->add_option("--classifier", tr_classifier,
                     "FID classifier cache: loaded when made from the same data and settings, else trained and "
                     "saved there (shared with otnet generate)")
      ->capture_default_str();
  tr_cmd->add_option("--data", tr_data,
                     "Fashion-MNIST folder with the IDX files (default: the Debian package dataset-fashion-mnist's)");

  return tools::run_cli(app, argc, argv, [&] {
    const tools::StopOnSignal stop_on_signal;  // Ctrl-C / SIGTERM: the training loops save and stop
    if (tr_cmd->parsed()) {
      tr.common.out = tr_text.out;
      tr.classifier = tr_classifier;
      tr.data = tr_data;
      return run_translate(tr);
    }
    if (gauss_cmd->parsed()) {
      gauss.dims = tools::parse_int_list(gauss_dims, "--dims");
      gauss.common.out = gauss_text.out;
      return run_gaussian(gauss);
    }
    if (toy_cmd->parsed()) {
      toy.datasets = tools::parse_name_list(toy_datasets, "--dataset");
      toy.variants = tools::parse_name_list(toy_variants, "--variants");
      toy.common.out = toy_text.out;
      return run_toy(toy);
    }
    lam.datasets = tools::parse_name_list(lam_datasets, "--dataset");
    lam.lambdas = parse_doubles(lam_values, "--lambdas");
    lam.common.out = lam_text.out;
    return run_lambda(lam);
  });
}
