// w2bench: the continuous Wasserstein-2 benchmark (Korotin et al., NeurIPS 2021; spec/algorithms.md §2)
// for the base solvers MM-B, MM, MMv2 and W2GN on DenseICNN potentials. For each dimension it trains
// the solver on the Mix3toMix10 pair, scores ∇ψ and ∇ψ̄ with L2-UVP and cos on 4096 fresh samples
// (spec §0) next to the identity / constant / linear baselines, and compares with the HOTET paper's
// published MM-B numbers (spec §1.10). `push` applies a trained map to the user's own points.
//
//   w2bench --solver mmb --dims 2,4,8 --iters 5000 --batch 1024 --seed 0 --out runs/w2 [--resume]
//   w2bench --quick --out runs/w2-quick
//   w2bench push --run runs/w2 --dim 8 --direction fwd --input x.npy --output y.npy
//
// This file only parses the command line; the work is in run.cpp, push.cpp, report.cpp, figure.cpp.
#include <fmt/format.h>

#include "tools/common/cli.h"
#include "tools/common/stop_signal.h"
#include "tools/w2bench/tool.h"

using namespace brenier;
using namespace brenier::w2bench_tool;

int main(int argc, char** argv) {
  CLI::App app{
      "w2bench: train a neural OT solver on the Wasserstein-2 benchmark (Mix3toMix10 pairs) and score its maps "
      "against the ground truth and the HOTET paper's MM-B numbers"};
  app.footer(fmt::format(
      "Writes config.json, metrics.jsonl, results.json, results.md, checkpoints/dim<D>.safetensors and "
      "figures/dim<D>.png into --out.\nExit codes: 0 done, 2 bad input, {} a dimension diverged (its last good "
      "checkpoint is kept and scored), 1 internal error, 130 / 143 stopped by Ctrl-C / SIGTERM after saving a checkpoint (continue with --resume).",
      kExitDiverged));

  TrainOptions train;
  std::string dims_text = kDefaultDims;
  std::string out_text;
  bool no_pretrain = false;
  app.add_option("--solver", train.solver,
                 "mmb: MM-B (batch conjugate); mm, mmv2: minimax (mmv2 keeps ψ convex); w2gn: cycle-consistent")
      ->check(CLI::IsMember({"mmb", "mm", "mmv2", "w2gn"}))
      ->capture_default_str();
  CLI::Option* dims_flag = app.add_option("--dims", dims_text, "comma-separated dimensions")->capture_default_str();
  CLI::Option* iters_flag =
      app.add_option("--iters", train.iters, "training steps per dimension (the paper: 5000)")->capture_default_str();
  CLI::Option* batch_flag =
      app.add_option("--batch", train.batch, "points per batch from each distribution")->capture_default_str();
  app.add_option("--seed", train.seed, "seeds the networks, the training batches and the evaluation samples")
      ->capture_default_str();
  app.add_option("--out", out_text, "run folder (default: runs/w2bench/<solver>/<timestamp>)");
  app.add_flag("--resume", train.resume,
               "continue the run in --out: finished dimensions are re-scored, unfinished ones continue from their "
               "checkpoint");
  app.add_flag(
      "--quick", train.quick,
      fmt::format("preset for a few-minute run: dims {}, batch {}, {} steps for mmb ({} for w2gn, {} for mm and "
                  "mmv2); explicit flags win",
                  kQuickDims, kQuickBatch, quick_iters("mmb"), quick_iters("w2gn"), quick_iters("mm")));
  app.add_flag("--no-pretrain", no_pretrain, "skip the identity pre-training of ψ (spec §2.3)");
  app.add_option("--strong-convexity", train.strong_convexity,
                 "s of the potentials' (s/2)‖x‖² term: 1e-4 as in the benchmark's solvers (spec §2.1); 1.0001 adds "
                 "HOTET's ½‖x‖² residual (spec §1.1)")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  std::string lr_schedule = "constant";
  app.add_option("--lr-schedule", lr_schedule,
                 "constant: Adam lr 1e-3 throughout, as the references; cosine: annealed to 0 over --iters")
      ->check(CLI::IsMember({"constant", "cosine"}))
      ->capture_default_str();
  app.add_option("--shared", train.shared,
                 "shared data folder holding data/w2bench (default: $BRENIER_SHARED, else ../shared)");
  app.add_flag("--quiet", train.quiet, "no progress lines");
  app.add_option("--device", train.device,
                 "cpu, or cuda[:i] (needs a -Dcuda=enabled build and a GPU; batches are still drawn on the host)")
      ->capture_default_str();

  PushOptions push;
  std::string run_text, input_text, output_text;
  CLI::App* push_cmd = app.add_subcommand("push", "apply a trained map to points from a .npy file");
  push_cmd->add_option("--run", run_text, "run folder written by w2bench")->required();
  push_cmd->add_option("--dim", push.dim, "dimension whose checkpoint to use")->required();
  push_cmd->add_option("--direction", push.direction, "fwd: ∇ψ (source to target); inv: ∇ψ̄ (target to source)")
      ->check(CLI::IsMember({"fwd", "inv"}))
      ->required();
  push_cmd->add_option("--input", input_text, "points [n, D] as an f32 or f64 .npy file")->required();
  push_cmd->add_option("--output", output_text, "where to write the mapped points (.npy, same dtype)")->required();
  push_cmd->footer(
      "Exit codes: 0 done, 2 bad input (no such run or checkpoint, wrong dimension, unreadable file), 1 "
      "internal error.");

  AggregateOptions aggregate;
  std::vector<std::string> aggregate_runs;
  std::string aggregate_out;
  CLI::App* aggregate_cmd = app.add_subcommand(
      "aggregate", "mean ± std over finished runs of one setting (e.g. seeds), beside the paper's MM-B mean ± std");
  aggregate_cmd->add_option("runs", aggregate_runs, "run folders written by w2bench")->required();
  aggregate_cmd->add_option("--out", aggregate_out, "also write aggregate.json and aggregate.md here");
  aggregate_cmd->footer("Exit codes: 0 done, 2 bad input (missing or foreign results.json, runs of different settings).");
  app.require_subcommand(0, 1);

  return tools::run_cli(app, argc, argv, [&] {
    const tools::StopOnSignal stop_on_signal;  // Ctrl-C / SIGTERM: the training loops save and stop
    if (push_cmd->parsed()) {
      push.run = run_text;
      push.input = input_text;
      push.output = output_text;
      return run_push(push);
    }
    if (aggregate_cmd->parsed()) {
      for (const std::string& r : aggregate_runs) aggregate.runs.emplace_back(r);
      aggregate.out = aggregate_out;
      return run_aggregate(aggregate);
    }
    if (train.quick) {  // the preset fills in only what the user did not set
      if (dims_flag->count() == 0) dims_text = kQuickDims;
      if (iters_flag->count() == 0) train.iters = quick_iters(train.solver);
      if (batch_flag->count() == 0) train.batch = kQuickBatch;
    }
    train.dims = tools::parse_int_list(dims_text, "--dims");
    train.out = out_text;
    train.pretrain = !no_pretrain;
    train.cosine_decay = lr_schedule == "cosine";
    return run_train(train);
  });
}
