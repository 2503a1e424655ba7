// otnet: OT-Net, a reusable neural semi-discrete OT solver (Li et al.; spec/algorithms.md §6), one
// subcommand per experiment of the paper:
//
//   otnet toy --dataset ring|grid [--ratio 0.9 | --ratios 1,0.9,0.8,0.7]   mode collapse (Tables 1–2)
//   otnet reuse [--dataset grid] [--ratios 0.7,...,0.95]                    held-out height error (§3)
//   otnet domain [--ratios 1,0.7,...,0.95]                                  2-D domain adaptation (Table 6)
//   otnet color [--source A.jpg --target B.jpg]                             color transfer timing (Table 5)
//   otnet generate [--ratios 1,0.9,0.8,0.7 --targets n ...]              Fashion-MNIST (Tables 3–4, Fig. 8–9)
//
// This file only parses the command line; the work is in toy.cpp, reuse.cpp, domain.cpp, color.cpp,
// generate.cpp.
#include <fmt/format.h>

#include <iostream>

#include "tools/common/cli.h"
#include "tools/common/stop_signal.h"
#include "tools/otnet/tool.h"

using namespace brenier;
using namespace brenier::otnet_tool;

namespace {

struct CommonText {
  std::string out, hidden = "512,512,512";
  CLI::Option* fourier_features = nullptr;
  CLI::Option* hidden_option = nullptr;
};

void add_common(CLI::App* cmd, CommonOptions& opt, CommonText& text) {
  cmd->add_option("--seed", opt.seed, "seeds the data, the target split, H_Φ's weights and the sources")
      ->capture_default_str();
  cmd->add_option("--out", text.out, "run folder (default: runs/otnet/<experiment>/<timestamp>)");
  cmd->add_option("--device", opt.device, "cpu, or cuda[:i] (needs a -Dcuda=enabled build and a GPU): the solves run there, scoring on the host")
      ->capture_default_str();
  text.hidden_option = cmd->add_option("--hidden", text.hidden, "H_Φ's hidden widths (Table A3: 512,512,512)")->capture_default_str();
  text.fourier_features =
      cmd->add_option("--fourier-features", opt.fourier_features,
                      "H_Φ's multi-scale Fourier features of clustered targets (ours, docs/otnet.md); 0: raw y as "
                      "Table A3 (color's default)")
          ->capture_default_str();
  cmd->add_option("--lr", opt.lr, "H_Φ's Adam lr; 0: the experiment's default (§6.3)")->capture_default_str();
  cmd->add_option("--tolerance", opt.tolerance, "δ: stop when ||grad E|| < δ; 0: 2e-3 (pyOMT, §6.1), generate 5e-3")
      ->capture_default_str();
  cmd->add_option("--max-iter", opt.max_iter, "most solver steps; 0: the experiment's default")->capture_default_str();
  cmd->add_flag("--quiet", opt.quiet, "no progress lines and no table on stdout");
  cmd->add_flag("--resume", opt.resume,
                "continue the run in --out from its checkpoints: finished solves are loaded, an unfinished one "
                "continues from its last checkpoint, everything is scored again");
  cmd->add_option("--checkpoint-every", opt.checkpoint_every,
                  "solver steps between checkpoints of an unfinished solve; 0: only when stopped (Ctrl-C, SIGTERM) "
                  "and at its end")
      ->capture_default_str();
  cmd->footer(fmt::format(
      "Writes config.json, results.json, results.md, figures/ and checkpoints/ into --out.\n"
      "Exit codes: 0 done, 2 bad input, {} a solver failed numerically, 1 internal error, 130 / 143 stopped by "
      "Ctrl-C / SIGTERM after saving a checkpoint (continue with --resume).",
      kExitDiverged));
}

void finish_common(CommonOptions& opt, const CommonText& text) {
  opt.out = text.out;
  opt.hidden = tools::parse_int_list(text.hidden, "--hidden");
  opt.fourier_features_given = text.fourier_features != nullptr && text.fourier_features->count() > 0;
  opt.hidden_given = text.hidden_option != nullptr && text.hidden_option->count() > 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"otnet: OT-Net, reusable neural semi-discrete optimal transport (spec §6), one subcommand per "
               "experiment"};
  app.require_subcommand(1);

  ToyOptions toy;
  CommonText toy_text;
  std::string toy_ratios;
  double toy_ratio = 0.9;
  bool toy_no_baseline = false;
  CLI::App* toy_cmd = app.add_subcommand("toy", "2D-ring / 2D-grid mode collapse, PacGAN metrics (Tables 1–2)");
  add_common(toy_cmd, toy.common, toy_text);
  toy_cmd->add_option("--dataset", toy.dataset, "ring (8 modes) or grid (25 modes), spec §6.4")
      ->check(CLI::IsMember({"ring", "grid"}))
      ->capture_default_str();
  CLI::Option* ratio_opt =
      toy_cmd->add_option("--ratio", toy_ratio, "fraction r of targets H_Φ trains on")->capture_default_str();
  toy_cmd->add_option("--ratios", toy_ratios, "several ratios, e.g. 1,0.9,0.8,0.7 (one row each)")
      ->excludes(ratio_opt);
  toy_cmd->add_option("--targets", toy.targets, "n: samples of the data set (ours)")->capture_default_str();
  toy_cmd->add_option("--samples", toy.samples, "generated samples scored")->capture_default_str();
  toy_cmd->add_option("--mode-min", toy.mode_min, "high-quality samples a captured mode needs")->capture_default_str();
  toy_cmd->add_option("--angle", toy.angle, "angle threshold of the extended map, radians; 0: ring 0.2, grid 0.1")
      ->capture_default_str();
  toy_cmd->add_flag("--no-baseline", toy_no_baseline, "skip the free-height (AE-OT) baseline");
  toy_cmd->add_option("--baseline-lr", toy.baseline_lr, "free-height solver's lr; 0: ring 1e-3, grid 1e-2")
      ->capture_default_str();

  ReuseOptions reuse;
  CommonText reuse_text;
  std::string reuse_ratios = "0.7,0.75,0.8,0.85,0.9,0.95";
  CLI::App* reuse_cmd = app.add_subcommand("reuse", "heights predicted for held-out targets vs solved on all (§3)");
  add_common(reuse_cmd, reuse.common, reuse_text);
  reuse_cmd->add_option("--dataset", reuse.dataset, "ring or grid")
      ->check(CLI::IsMember({"ring", "grid"}))
      ->capture_default_str();
  reuse_cmd->add_option("--ratios", reuse_ratios, "fractions r H_Φ trains on")->capture_default_str();
  reuse_cmd->add_option("--targets", reuse.targets, "n")->capture_default_str();
  reuse_cmd->add_option("--baseline-lr", reuse.baseline_lr, "free-height solver's lr; 0: the data set's default")
      ->capture_default_str();
  reuse_cmd->add_option("--baseline-tolerance", reuse.baseline_tolerance, "free-height solver's δ; 0: 2e-3")
      ->capture_default_str();

  DomainOptions domain;
  CommonText domain_text;
  std::string domain_ratios = "1,0.7,0.75,0.8,0.85,0.9,0.95";
  CLI::App* domain_cmd =
      app.add_subcommand("domain", "2-D three-class domain adaptation, 1-NN accuracy vs POT (Table 6, P6)");
  add_common(domain_cmd, domain.common, domain_text);
  domain_cmd->add_option("--ratios", domain_ratios, "fractions r of target points H_Φ trains on")
      ->capture_default_str();
  domain_cmd->add_option("--shared", domain.shared,
                         "shared folder holding data/domain2d (default: $BRENIER_SHARED, else ../shared)");

  ColorOptions color;
  CommonText color_text;
  CLI::App* color_cmd = app.add_subcommand("color", "color transfer of one photo's colors onto another (Table 5, P5)");
  add_common(color_cmd, color.common, color_text);
  color_cmd->add_option("--source", color.source_image, "image to recolor (default: shared china.jpg)");
  color_cmd->add_option("--target", color.target_image, "image whose colors are used (default: shared flower.jpg)");
  color_cmd->add_option("--size", color.size, "side of the square crop after resizing (paper: 512)")
      ->capture_default_str();
  color_cmd->add_option("--pixels", color.pixels, "n = N: target pixels and source samples per step (paper: 500)")
      ->capture_default_str();
  color_cmd->add_option("--update", color.update,
                        "what Algorithm 1's steps after the warm start change: output-layer (ours) or all (Adam on "
                        "all of H_Φ, §6.3)")
      ->check(CLI::IsMember({"output-layer", "all"}))
      ->capture_default_str();
  color_cmd->add_option("--shared", color.shared,
                        "shared folder holding data/images (default: $BRENIER_SHARED, else ../shared)");

  GenerateOptions gen;
  CommonText gen_text;
  std::string gen_data, gen_classifier = gen.classifier.string(), gen_ratios = "1,0.9,0.8,0.7";
  bool gen_quick = false, gen_no_baseline = false;
  CLI::App* gen_cmd = app.add_subcommand(
      "generate", "Fashion-MNIST latent generation: autoencoder + OT-Net map, classifier-feature FID, solve time "
                  "vs free heights (Tables 3–4)");
  add_common(gen_cmd, gen.common, gen_text);
  gen_cmd->add_option("--data", gen_data,
                      "folder of the Fashion-MNIST IDX files (default: /usr/share/datasets/fashion-mnist, from "
                      "`apt-get install dataset-fashion-mnist`)");
  gen_cmd->add_option("--classifier", gen_classifier,
                      "FID classifier cache: loaded when made from the same data and settings, else trained and "
                      "written there")
      ->capture_default_str();
  gen_cmd->add_flag("--quick", gen_quick,
                    "a seconds-long smoke run: small sizes for every size flag not given explicitly");
  struct SizeFlag {
    const char* name;
    int64_t* value;
    int64_t quick;
    const char* help;
  };
  const SizeFlag size_flags[] = {
      {"--train-images", &gen.train_images, 256, "training images the autoencoder learns from (ours)"},
      {"--test-images", &gen.test_images, 256, "test images the FIDs compare against"},
      {"--classifier-images", &gen.classifier_images, 256, "training images of the FID classifier (ours)"},
      {"--classifier-epochs", &gen.classifier_epochs, 1, "FID classifier's epochs (ours)"},
      {"--ae-epochs", &gen.ae_epochs, 4, "autoencoder epochs (ours)"},
      {"--ae-batch", &gen.ae_batch, 32, "autoencoder batch (ours; paper 512)"},
      {"--ae-width", &gen.ae_width, 4, "autoencoder width, Tables A1–A2's dim (ours)"},
      {"--latent", &gen.latent, 8, "latent dimension (ours; paper 100)"},
      {"--targets", &gen.targets, 64, "n: codes the OT map sends the source onto (ours; paper 60,000)"},
      {"--samples", &gen.samples, 64, "m: samples per FID row (ours)"},
  };
  std::vector<std::pair<CLI::Option*, const SizeFlag*>> size_options;
  for (const SizeFlag& f : size_flags)
    size_options.emplace_back(gen_cmd->add_option(f.name, *f.value, f.help)->capture_default_str(), &f);
  gen_cmd->add_option("--ratios", gen_ratios,
                      "training ratios r of H_Φ, one Table 4 row each: H_Φ trains on a random ceil(r·n) of the codes "
                      "and predicts the other heights (paper: Table 4 uses 1,0.95,0.9,0.85,0.8,0.75,0.7; the default is "
                      "Fig. 8–9's 1,0.9,0.8,0.7, which fits a CPU budget: ≈ 1–2 min a ratio)")
      ->capture_default_str();
  gen_cmd->add_option("--ae-lr", gen.ae_lr, "autoencoder's Adam lr (ours; paper 2e-4)")->capture_default_str();
  gen_cmd->add_option("--angle", gen.angle, "angle threshold for new codes, radians (§6.2 demo2: 0.7)")
      ->capture_default_str();
  gen_cmd->add_flag("--no-baseline", gen_no_baseline, "skip the free-height (AE-OT) solve");
  gen_cmd->add_option("--baseline-lr", gen.baseline_lr, "free-height solver's lr; 0: 5e-2 (§6.1)")
      ->capture_default_str();

  return tools::run_cli(app, argc, argv, [&]() -> int {
    const tools::StopOnSignal stop_on_signal;  // Ctrl-C / SIGTERM: save the running solve and stop
    try {
      if (toy_cmd->parsed()) {
        finish_common(toy.common, toy_text);
        toy.ratios = toy_ratios.empty() ? std::vector<double>{toy_ratio} : parse_ratio_list(toy_ratios, "--ratios");
        toy.baseline = !toy_no_baseline;
        return run_toy(toy);
      }
      if (reuse_cmd->parsed()) {
        finish_common(reuse.common, reuse_text);
        reuse.ratios = parse_ratio_list(reuse_ratios, "--ratios");
        return run_reuse(reuse);
      }
      if (domain_cmd->parsed()) {
        finish_common(domain.common, domain_text);
        domain.ratios = parse_ratio_list(domain_ratios, "--ratios");
        return run_domain(domain);
      }
      if (gen_cmd->parsed()) {
        finish_common(gen.common, gen_text);
        gen.data = gen_data;
        gen.classifier = gen_classifier;
        gen.baseline = !gen_no_baseline;
        gen.ratios = parse_ratio_list(gen_ratios, "--ratios");
        if (gen_quick) {
          for (auto& [option, flag] : size_options)
            if (option->count() == 0) *flag->value = flag->quick;
          if (gen_cmd->get_option("--hidden")->count() == 0) gen.common.hidden = {32, 32};
          if (gen.common.max_iter == 0) gen.common.max_iter = 20;
        }
        return run_generate(gen);
      }
      finish_common(color.common, color_text);
      return run_color(color);
    } catch (const DivergedError& e) {
      std::cerr << "error: " << e.what() << "\n";
      return kExitDiverged;
    }
  });
}
