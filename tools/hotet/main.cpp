// hotet: HOTET, hypernetwork-based OT (arXiv 2504.17740, ISIT 2025; spec/algorithms.md §1), one
// subcommand per experiment of the paper:
//
//   hotet gm-predict --dims 2 --out runs/gm2 [--method mmb|mmv2] [--iters 5000] [--context transformer|constant|meta-ot|points]
//   hotet ablation --dims 2 --out runs/ab2 [the gm-predict options but --context]
//   hotet w2b --dims 2,4,8 --out runs/w2b [--method mmb|mmv2] [--iters 5000] [--resume]
//   hotet runtime --out runs/rt [--dim 8] [--steps 5000] [--pairs-measured 3]
//   hotet color --out runs/color [--images a.jpg,b.png] [--reference r.jpg] [--steps 5000]
//
// This file only parses the command line; the work is in gm_predict.cpp, ablation.cpp, w2b.cpp, runtime.cpp,
// color.cpp and common.cpp.
#include <fmt/format.h>

#include "tools/common/cli.h"
#include "tools/common/stop_signal.h"
#include "tools/hotet/tool.h"

using namespace brenier;
using namespace brenier::hotet_tool;

namespace {

// Flags both subcommands take; `dims_text` and `out_text` are parsed after CLI11 is done.
void add_common(CLI::App* cmd, CommonOptions& opt, std::string& dims_text, std::string& out_text,
                const char* default_dims, bool& no_pretrain) {
  cmd->add_option("--dims,--dim", dims_text, "comma-separated dimensions")->default_str(default_dims);
  cmd->add_option("--iters", opt.iters, "training steps per dimension (the paper: 5000, spec §1.6)")
      ->capture_default_str();
  cmd->add_option("--method", opt.method, "mmb: MM-B (batch conjugate); mmv2: minimax with inner steps (spec §1.4)")
      ->check(CLI::IsMember({"mmb", "mmv2"}))
      ->capture_default_str();
  cmd->add_option("--seed", opt.seed, "seeds the networks, the distributions, batches and evaluation samples")
      ->capture_default_str();
  cmd->add_option("--out", out_text, "run folder (default: runs/hotet/<experiment>/<timestamp>)");
  cmd->add_flag("--resume", opt.resume,
                "continue the run in --out: finished dimensions are re-scored, unfinished ones continue from their "
                "checkpoint");
  cmd->add_option("--device", opt.device, "cpu, or cuda[:i] (needs a -Dcuda=enabled build and a GPU)")
      ->capture_default_str();
  cmd->add_flag("--no-pretrain", no_pretrain, "skip identity pre-training (spec §1.5; it usually stops at once)");
  cmd->add_option("--embed-width", opt.embed_width,
                  "transformer width; 0: the points' dimension, as the reference (spec §1.3)")
      ->capture_default_str();
  cmd->add_option("--embed-heads", opt.embed_heads, "attention heads; 0: one per channel, as the reference (§1.3)")
      ->capture_default_str();
  cmd->add_option("--embed-layers", opt.embed_layers, "transformer blocks (§1.3: 6)")->capture_default_str();
  cmd->add_option("--pooling", opt.pooling,
                  "where the hypernetworks pool a set: before (the pooled embedding enters the hypernet, paper "
                  "§III-B) or after-hidden (the hypernet's hidden layers run per point and their output is pooled, "
                  "the reference code, spec §1.2); transformer or points context only")
      ->capture_default_str();
  cmd->add_option("--inner-iters", opt.inner_iters, "MMv2 inner steps on the inverse potential (§1.4: 20)")
      ->capture_default_str();
  cmd->add_option("--lr", opt.lr, "Adam learning rate of every module (§1.6: 1e-3)")->capture_default_str();
  cmd->add_flag("--convex", opt.convex,
                "ReLU the generated output-layer weights too, so every generated potential is convex (the W2 "
                "benchmark's MMv2 convexify); default: free, as the reference code");
  cmd->add_option("--checkpoint-every", opt.checkpoint_every,
                  "steps between checkpoints (and metrics.jsonl records); a resumed run continues from the last one")
      ->capture_default_str();
  cmd->add_flag("--quiet", opt.quiet, "no progress lines");
  cmd->footer(fmt::format(
      "Writes config.json, metrics.jsonl, results.json, results.md and checkpoints/dim<D>.safetensors into --out.\n"
      "Exit codes: 0 done, 2 bad input, {} a dimension diverged (its last good checkpoint is scored), 1 internal "
      "error, 130 / 143 stopped by Ctrl-C / SIGTERM after saving a checkpoint (continue with --resume).",
      kExitDiverged));
}

// The Gaussian-mixture options gm-predict and ablation share.
void add_gm_options(CLI::App* cmd, GmOptions& gm) {
  cmd->add_option("--batch", gm.batch,
                  "points per distribution per step; 0: HOTET's config value, 256 (D <= 4), 128 (D <= 16), 64")
      ->capture_default_str();
  cmd->add_option("--per-step", gm.per_step, "distributions per step (§1.6: 8)")->capture_default_str();
  cmd->add_option("--train-sources", gm.train_sources, "training source mixtures (§1.7: 500)")->capture_default_str();
  cmd->add_option("--test-sources", gm.test_sources, "unseen test mixtures (the paper: 100)")->capture_default_str();
  cmd->add_option("--eval-train-sources", gm.eval_train_sources, "training sources scored (the first ones)")
      ->capture_default_str();
  cmd->add_option("--eval-samples", gm.eval_samples, "points per scored distribution (§1.7: 1024)")
      ->capture_default_str();
  cmd->add_option("--targets", gm.targets,
                  "training targets: paired (the reference script: the ground truth's images of the batch's own "
                  "sources; MM-B's gradient then vanishes in high dimension) or independent (a fresh sample of the "
                  "target mixture)")
      ->check(CLI::IsMember({"paired", "independent"}))
      ->capture_default_str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hotet: hypernetwork-based optimal transport (HOTET, arXiv 2504.17740), one subcommand per experiment"};
  app.require_subcommand(1);

  GmOptions gm;
  std::string gm_dims = "2,4,8,16,32,64", gm_out;
  bool gm_no_pretrain = false;
  CLI::App* gm_cmd = app.add_subcommand(
      "gm-predict", "predict OT maps of unseen Gaussian mixtures (spec §1.7, paper Table III)");
  add_common(gm_cmd, gm.common, gm_dims, gm_out, "2,4,8,16,32,64", gm_no_pretrain);
  add_gm_options(gm_cmd, gm);
  bool gm_no_embedding = false;
  gm_cmd->add_option("--context", gm.context,
                     "what conditions the hypernetworks: transformer (HOTET), constant (no embedding, paper Table IV), "
                     "meta-ot (the Meta OT baseline: an MLP on the first 64 points of the sample, spec §3.3), points "
                     "(no trained embedding: the raw points, pooled by --pooling; after-hidden is the reference "
                     "configs' emb_method mlp, its D = 64 runs)")
      ->check(CLI::IsMember({"transformer", "constant", "meta-ot", "points"}))
      ->capture_default_str();
  gm_cmd->add_flag("--no-embedding", gm_no_embedding, "same as --context constant (paper Table IV ablation)");

  GmOptions ab;
  std::string ab_dims = "2", ab_out;
  bool ab_no_pretrain = false;
  CLI::App* ab_cmd = app.add_subcommand(
      "ablation", "gm-predict with the transformer, without embedding, with the Meta OT context and with the raw "
                  "points, side by side (paper Tables III, IV)");
  add_common(ab_cmd, ab.common, ab_dims, ab_out, "2", ab_no_pretrain);
  add_gm_options(ab_cmd, ab);

  W2bOptions w2b;
  std::string w2b_dims = "2,4,8,16,32,64", w2b_out;
  bool w2b_no_pretrain = false;
  CLI::App* w2b_cmd =
      app.add_subcommand("w2b", "one map per dimension on the W2 benchmark (spec §1.8, paper Tables I, II, VI)");
  add_common(w2b_cmd, w2b.common, w2b_dims, w2b_out, "2,4,8,16,32,64", w2b_no_pretrain);
  w2b_cmd->add_option("--batch", w2b.batch, "points per batch (§1.6: 1024)")->capture_default_str();
  w2b_cmd->add_option("--shared", w2b.shared,
                      "shared data folder holding data/w2bench (default: $BRENIER_SHARED, else ../shared)");

  RuntimeOptions rt;
  std::string rt_out, rt_trainers = "hotet-mmb,meta-ot,hotet-mmv2,mmb,mmv2";
  bool rt_no_pretrain = false;
  CLI::App* rt_cmd = app.add_subcommand(
      "runtime", "wall time to obtain 500 OT maps: HOTET, Meta OT, one MM-B / MMv2 solve per pair (paper Table V)");
  rt_cmd->add_option("--dim", rt.dim, "dimension (Table V's protocol: 8)")->capture_default_str();
  rt_cmd->add_option("--steps", rt.common.iters,
                     "training steps timed per model (the paper: 5000, spec §1.6); fewer are projected to 5000")
      ->capture_default_str();
  rt_cmd->add_option("--mmv2-steps", rt.mmv2_steps, "steps timed for the MMv2 trainers (0: --steps; each step runs "
                                                    "--inner-iters inner steps, so they are ~20x slower)")
      ->capture_default_str();
  rt_cmd->add_option("--pairs", rt.pairs, "distribution pairs to obtain maps for (Table V: 500)")->capture_default_str();
  rt_cmd->add_option("--pairs-measured", rt.pairs_measured,
                     "per-pair MM-B / MMv2 solves actually run; their mean time stands for all --pairs")
      ->capture_default_str();
  rt_cmd->add_option("--trainers", rt_trainers, "which rows to time: hotet-mmb, meta-ot, hotet-mmv2, mmb, mmv2")
      ->capture_default_str();
  rt_cmd->add_option("--batch", rt.batch, "points per distribution per step; 0: 256 (D <= 4), 128 (D <= 16), 64 (§1.6)")
      ->capture_default_str();
  rt_cmd->add_option("--per-step", rt.per_step, "distributions per HOTET step (§1.6: 8)")->capture_default_str();
  rt_cmd->add_option("--predict-repeats", rt.predict_repeats, "timings of a new distribution's map (median reported)")
      ->capture_default_str();
  rt_cmd->add_option("--inner-iters", rt.common.inner_iters, "MMv2 inner steps (§1.4: 20)")->capture_default_str();
  rt_cmd->add_option("--embed-layers", rt.common.embed_layers, "transformer blocks (§1.3: 6)")->capture_default_str();
  rt_cmd->add_option("--seed", rt.common.seed, "seeds networks, distributions and batches")->capture_default_str();
  rt_cmd->add_option("--out", rt_out, "run folder (default: runs/hotet/runtime/<timestamp>)");
  rt_cmd->add_flag("--resume", rt.common.resume, "keep the rows an earlier run in --out timed; time the rest");
  rt_cmd->add_option("--device", rt.common.device, "cpu, or cuda[:i] (needs a -Dcuda=enabled build and a GPU)")
      ->capture_default_str();
  rt_cmd->add_flag("--no-pretrain", rt_no_pretrain, "skip identity pre-training (spec §1.5)");
  rt_cmd->add_flag("--quiet", rt.common.quiet, "no progress lines");
  rt_cmd->footer("Writes config.json, metrics.jsonl, results.json and results.md (ours beside the paper's Table V, "
                 "with the machine's cores and load) into --out.\nExit codes: 0 done, 2 bad input, 1 internal error.");

  ColorOptions color;
  color.common.embed_width = 16;  // lift D = 3 first (NOTES.md: LayerNorm over 3 channels collapses the points)
  color.common.embed_heads = 4;
  std::string color_out, color_images, color_unseen;
  bool color_no_pretrain = false;
  CLI::App* color_cmd = app.add_subcommand(
      "color", "color transfer on photographs: one-to-one, many-to-one, in-context fine-tuning (paper §IV-D)");
  color_cmd->add_option("--images", color_images,
                        "comma-separated source images (JPEG/PNG); default: ../shared/data/images/china.jpg");
  color_cmd->add_option("--reference", color.reference,
                        "the reference image whose colors every source gets; default: ../shared/data/images/flower.jpg");
  color_cmd->add_option("--unseen", color_unseen,
                        "comma-separated images for in-context fine-tuning; default: crops and a channel-reversed copy "
                        "of the first image");
  color_cmd->add_option("--shared", color.shared,
                        "shared data folder holding data/images (default: $BRENIER_SHARED, else ../shared)");
  color_cmd->add_option("--steps", color.common.iters, "training steps per model (the paper: 5000, §1.6)")
      ->capture_default_str();
  color_cmd->add_option("--finetune-steps", color.finetune_steps, "in-context fine-tuning steps (the paper: 50)")
      ->capture_default_str();
  color_cmd->add_option("--method", color.common.method,
                        "mmb (the paper's text, §IV-D), mmv2, or w2gn (the reference code's color loss, spec §1.4)")
      ->check(CLI::IsMember({"mmb", "mmv2", "w2gn"}))
      ->capture_default_str();
  color_cmd->add_option("--batch", color.batch, "pixels per image per step (§1.6: 1024)")->capture_default_str();
  color_cmd->add_option("--per-step", color.per_step, "images per many-to-one step (§1.6: 8)")->capture_default_str();
  color_cmd->add_option("--min-sources", color.min_sources, "many-to-one sources; crops are added to reach it")
      ->capture_default_str();
  color_cmd->add_option("--eval-points", color.eval_points, "pixels per side of each exact W2 score")
      ->capture_default_str();
  color_cmd->add_option("--max-side", color.max_side, "shrink images so the longer side is at most this (0: keep)")
      ->capture_default_str();
  color_cmd->add_option("--embed-width", color.common.embed_width, "transformer width (ours: 16; see color.cpp)")
      ->capture_default_str();
  color_cmd->add_option("--embed-heads", color.common.embed_heads, "attention heads (ours: 4)")->capture_default_str();
  color_cmd->add_option("--embed-layers", color.common.embed_layers, "transformer blocks (§1.3: 6)")
      ->capture_default_str();
  color_cmd->add_option("--inner-iters", color.common.inner_iters, "MMv2 inner steps (§1.4: 20)")->capture_default_str();
  color_cmd->add_option("--checkpoint-every", color.common.checkpoint_every, "steps between checkpoints")
      ->capture_default_str();
  color_cmd->add_option("--seed", color.common.seed, "seeds networks, pixel batches and scores")->capture_default_str();
  color_cmd->add_option("--out", color_out, "run folder (default: runs/hotet/color/<timestamp>)");
  color_cmd->add_flag("--resume", color.common.resume, "continue the run in --out from its checkpoints");
  color_cmd->add_option("--device", color.common.device, "cpu, or cuda[:i] (needs a -Dcuda=enabled build and a GPU)")
      ->capture_default_str();
  color_cmd->add_flag("--no-pretrain", color_no_pretrain, "skip identity pre-training (spec §1.5)");
  color_cmd->add_flag("--quiet", color.common.quiet, "no progress lines");
  color_cmd->footer("Writes config.json, metrics.jsonl, results.json, results.md, figures/*.png (before/after panels) "
                    "and checkpoints/ into --out.\nExit codes: 0 done, 2 bad input (a missing or corrupt image "
                    "included), 1 internal error, 130 / 143 stopped by Ctrl-C / SIGTERM after saving a checkpoint (continue with --resume).");

  return tools::run_cli(app, argc, argv, [&] {
    const tools::StopOnSignal stop_on_signal;  // Ctrl-C / SIGTERM: the training loops save and stop
    if (rt_cmd->parsed()) {
      rt.common.out = rt_out;
      rt.common.pretrain = !rt_no_pretrain;
      rt.trainers = tools::parse_name_list(rt_trainers, "--trainers", true);
      return run_runtime(rt);
    }
    if (color_cmd->parsed()) {
      color.common.out = color_out;
      color.common.pretrain = !color_no_pretrain;
      color.images = tools::parse_name_list(color_images, "--images", true);
      color.unseen = tools::parse_name_list(color_unseen, "--unseen", true);
      return run_color(color);
    }
    if (gm_cmd->parsed()) {
      gm.common.dims = tools::parse_int_list(gm_dims, "--dims");
      gm.common.out = gm_out;
      gm.common.pretrain = !gm_no_pretrain;
      if (gm_no_embedding) gm.context = "constant";
      return run_gm_predict(gm);
    }
    if (ab_cmd->parsed()) {
      ab.common.dims = tools::parse_int_list(ab_dims, "--dims");
      ab.common.out = ab_out;
      ab.common.pretrain = !ab_no_pretrain;
      return run_ablation(ab);
    }
    w2b.common.dims = tools::parse_int_list(w2b_dims, "--dims");
    w2b.common.out = w2b_out;
    w2b.common.pretrain = !w2b_no_pretrain;
    return run_w2b(w2b);
  });
}
