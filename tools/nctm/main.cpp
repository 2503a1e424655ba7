// nctm: Neural Conditional Transport Maps (arXiv 2505.15808; spec/algorithms.md §5), one subcommand per
// experiment:
//
//   nctm gaussian --dims 2,8,32 --out runs/g [--iters 2000] [--conditioning hypernet|concat|film]
//                 [--encoding positional|scalar|fourier] [--shared-encoder] [--resume]
//   nctm ablation --dim 8 --out runs/a [--iters 2000] [--seeds 0,1,2] [--resume]
//   nctm toy2d --datasets 8g --cost weak [--noise-dim 2] [--gamma 1] --out runs/w   (NOT's weak cost with noise)
//   nctm toy2d --out runs/t [--datasets swiss-roll,8g] [--classes 3] [--eval-samples 512] [--resume]
//   nctm sensitivity --out runs/s [--encodings positional,scalar] [--grid 16] [--samples 16384] [--resume]
// Every subcommand takes --device cpu|cuda[:i] and --cost strong|weak [--noise-dim --noise-std --noise-samples
// --gamma] (recorded in config.json and results.json under "options"); ablation also takes --seeds 0,1,2.
//
// This file only parses the command line; the work is in gaussian.cpp, ablation.cpp, toy2d.cpp,
// sensitivity.cpp and common.cpp.
#include <fmt/format.h>

#include "tools/common/cli.h"
#include "tools/common/stop_signal.h"
#include "tools/nctm/tool.h"

using namespace brenier;
using namespace brenier::nctm_tool;

namespace {

// The cost flags whose defaults depend on --cost (resolved by apply_cost_defaults once CLI11 is done).
struct CostFlags {
  CLI::Option* noise_dim = nullptr;
  CLI::Option* gamma = nullptr;
};

// --cost weak without --noise-dim / --gamma: NOT's 2-D toy (spec §5.1), z dim 2 and γ = 1 (its
// mse(x, mean_z T) is ‖x − E_z T‖², the γ = 1 weak cost). --cost strong keeps 0 and 0.
void apply_cost_defaults(CommonOptions& opt, const CostFlags& flags) {
  if (opt.cost != "weak") return;
  if (flags.noise_dim->count() == 0) opt.noise_dim = 2;
  if (flags.gamma->count() == 0) opt.gamma = 1.0;
}

// Flags every subcommand takes; `dims_text` and `out_text` are parsed after CLI11 is done.
// `default_dims` null: the subcommand has a fixed dimension and no --dims; `with_classes`: it takes --classes.
CostFlags add_common(CLI::App* cmd, CommonOptions& opt, std::string& dims_text, std::string& out_text,
                     const char* default_dims, bool with_classes = true) {
  if (default_dims)
    cmd->add_option("--dims,--dim", dims_text, "comma-separated dimensions (>= 2)")->default_str(default_dims);
  cmd->add_option("--iters", opt.iters, "alternating steps, each K_T map updates + 1 critic update")
      ->capture_default_str();
  cmd->add_option("--pretrain-steps", opt.pretrain_steps, "identity pre-training steps of T (spec §5.2: >= 500)")
      ->capture_default_str();
  cmd->add_option("--warmup-steps", opt.warmup_steps, "critic warm-up steps with T frozen")->capture_default_str();
  cmd->add_option("--batch", opt.batch, "points per update")->capture_default_str();
  cmd->add_option("--map-steps", opt.map_steps, "K_T: map updates per critic update (spec §5.2: 4-6)")
      ->capture_default_str();
  cmd->add_option("--map-lr", opt.map_lr, "Adam lr of T (spec §5.1: 1e-4)")->capture_default_str();
  cmd->add_option("--critic-lr", opt.critic_lr, "Adam lr of f (spec §5.1: 1e-4)")->capture_default_str();
  cmd->add_option("--critic-magnitude", opt.critic_magnitude,
                  "critic warm-up magnitude penalty on f(T x)^2 + f(y)^2 (ours; see docs/nctm.md)")
      ->capture_default_str();
  cmd->add_option("--weight-decay", opt.weight_decay, "AdamW weight decay (spec §5.2: 0.03)")->capture_default_str();
  cmd->add_option("--position-scale", opt.position_scale,
                  "positional encoding of s in [0, 1]: PE(position_scale * s) (ours; see docs/nctm.md)")
      ->capture_default_str();
  cmd->add_option("--width", opt.width, "hidden width of T and f")->capture_default_str();
  CostFlags flags;
  cmd->add_option("--cost", opt.cost,
                  "strong: E_z |x - T(x,z,c)|^2/D; weak: minus gamma Var_z T/D, needs noise (spec §5.1)")
      ->capture_default_str();
  flags.noise_dim = cmd->add_option("--noise-dim", opt.noise_dim,
                                    "dimension of T's noise input z (default: 0 strong, 2 weak as NOT's 2-D toy, §5.1)");
  cmd->add_option("--noise-std", opt.noise_std, "std of z (Z_STD, spec §5.1)")->capture_default_str();
  cmd->add_option("--noise-samples", opt.noise_samples, "z draws per x (Z_SIZE, spec §5.1)")->capture_default_str();
  flags.gamma = cmd->add_option("--gamma", opt.gamma, "gamma of the weak cost (default: 0 strong, 1 weak as NOT's 2-D toy, §5.1)");
  if (with_classes)
    cmd->add_option("--classes", opt.classes, "discrete classes of the condition")->capture_default_str();
  cmd->add_option("--eval-samples", opt.eval_samples, "source points per scored condition")->capture_default_str();
  cmd->add_option("--seed", opt.seed, "seeds the networks, the family, batches and evaluation samples")
      ->capture_default_str();
  cmd->add_option("--out", out_text, "run folder (default: runs/nctm/<experiment>/<timestamp>)");
  cmd->add_flag("--resume", opt.resume, "continue the run in --out from its checkpoints (finished runs are re-scored)");
  cmd->add_option("--device", opt.device, "cpu, or cuda[:i] (needs a -Dcuda=enabled build and a GPU)")
      ->capture_default_str();
  cmd->add_option("--checkpoint-every", opt.checkpoint_every, "steps between checkpoints and metrics.jsonl records")
      ->capture_default_str();
  cmd->add_flag("--quiet", opt.quiet, "no progress lines");
  cmd->footer(fmt::format(
      "Writes config.json, metrics.jsonl, results.json, results.md and checkpoints/ into --out.\n"
      "Exit codes: 0 done, 2 bad input, {} training diverged (the last good checkpoint is scored), 1 internal error,"
      " 130 / 143 stopped by Ctrl-C / SIGTERM after saving a checkpoint (continue with --resume).",
      kExitDiverged));
  return flags;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"nctm: neural conditional transport maps (NCTM, arXiv 2505.15808), one subcommand per experiment"};
  app.require_subcommand(1);

  CommonOptions gaussian;
  std::string g_dims = "2,8,32", g_out;
  CLI::App* g_cmd = app.add_subcommand(
      "gaussian", "conditional Gaussian targets N(m(k, s), Sigma(k, s)): L2-UVP on seen and unseen conditions");
  const CostFlags g_cost = add_common(g_cmd, gaussian, g_dims, g_out, "2,8,32");
  g_cmd->add_option("--conditioning", gaussian.conditioning, "hypernet (the paper's), concat or film")
      ->check(CLI::IsMember({"hypernet", "concat", "film"}))
      ->capture_default_str();
  g_cmd->add_option("--encoding", gaussian.encoding, "encoding of s: positional (the paper's), scalar or fourier")
      ->check(CLI::IsMember({"positional", "scalar", "fourier"}))
      ->capture_default_str();
  g_cmd->add_flag("--shared-encoder", gaussian.shared_encoder, "one condition encoder for T and f (spec §5.2: separate)");

  AblationOptions ablation;
  std::string a_dims = "8", a_out;
  CLI::App* a_cmd = app.add_subcommand(
      "ablation", "hypernet / concat / FiLM, positional / scalar / Fourier, pre-training, shared encoders: one table");
  const CostFlags a_cost = add_common(a_cmd, ablation.common, a_dims, a_out, "8");
  std::string a_seeds;
  a_cmd->add_option("--seeds", a_seeds,
                    "comma-separated seeds: every variant trained once per seed, mean ± std per column "
                    "(replaces --seed; default: --seed alone)");

  Toy2dOptions toy;
  toy.common.eval_samples = 512;  // exact W2 by the Hungarian method (O(n³)): 256–512 points per condition
  std::string t_unused, t_out, t_datasets = "swiss-roll,8g";
  CLI::App* t_cmd = app.add_subcommand(
      "toy2d", "NOT 2-D sanity checks (Swiss roll, 8 Gaussians), then rotated / scaled by a condition; exact W2, PNGs");
  const CostFlags t_cost = add_common(t_cmd, toy.common, t_unused, t_out, nullptr);
  t_cmd->add_option("--datasets", t_datasets, "comma-separated: swiss-roll, 8g")->capture_default_str();
  t_cmd->add_option("--conditioning", toy.common.conditioning, "hypernet (the paper's), concat or film")
      ->check(CLI::IsMember({"hypernet", "concat", "film"}))
      ->capture_default_str();
  t_cmd->add_option("--encoding", toy.common.encoding, "encoding of s: positional (the paper's), scalar or fourier")
      ->check(CLI::IsMember({"positional", "scalar", "fourier"}))
      ->capture_default_str();

  SensitivityOptions sens;
  sens.common.eval_samples = 4096;  // P_Y points per scored condition of the map
  std::string s_unused, s_out, s_encodings = "positional,scalar";
  CLI::App* s_cmd = app.add_subcommand(
      "sensitivity", "OT sensitivity indices of the Ishigami function: exact OT on samples vs an NCTM map, Pearson rho");
  const CostFlags s_cost = add_common(s_cmd, sens.common, s_unused, s_out, nullptr, /*with_classes=*/false);
  s_cmd->add_option("--encodings", s_encodings, "comma-separated encodings of x_i, one map each: positional, scalar, fourier")
      ->capture_default_str();
  s_cmd->add_option("--grid", sens.grid, "conditioning values per input (midpoints of (-pi, pi))")->capture_default_str();
  s_cmd->add_option("--samples", sens.samples, "points per measure of the exact-OT estimator")->capture_default_str();
  s_cmd->add_option("--conditioning", sens.common.conditioning, "hypernet (the paper's), concat or film")
      ->check(CLI::IsMember({"hypernet", "concat", "film"}))
      ->capture_default_str();

  return tools::run_cli(app, argc, argv, [&] {
    const tools::StopOnSignal stop_on_signal;  // Ctrl-C / SIGTERM: the training loops save and stop
    if (t_cmd->parsed()) {
      toy.datasets = tools::parse_name_list(t_datasets, "--datasets");
      toy.common.out = t_out;
      apply_cost_defaults(toy.common, t_cost);
      return run_toy2d(toy);
    }
    if (s_cmd->parsed()) {
      sens.encodings = tools::parse_name_list(s_encodings, "--encodings");
      sens.common.out = s_out;
      apply_cost_defaults(sens.common, s_cost);
      return run_sensitivity(sens);
    }
    if (g_cmd->parsed()) {
      gaussian.dims = tools::parse_int_list(g_dims, "--dims");
      gaussian.out = g_out;
      apply_cost_defaults(gaussian, g_cost);
      return run_gaussian(gaussian);
    }
    ablation.common.dims = tools::parse_int_list(a_dims, "--dims");
    ablation.common.out = a_out;
    apply_cost_defaults(ablation.common, a_cost);
    if (!a_seeds.empty())
      for (int64_t s : tools::parse_int_list(a_seeds, "--seeds")) {
        BRENIER_CHECK(s >= 0, "--seeds: seeds must be >= 0, got {}", s);
        ablation.seeds.push_back(static_cast<uint64_t>(s));
      }
    return run_ablation(ablation);
  });
}
