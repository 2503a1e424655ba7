// w2bench's training command: per dimension, identity pre-training, training with a progress line,
// checkpoints every kCheckpointEvery steps (the last good one survives a divergence), resuming from
// them, and scoring on fresh samples with the baselines and a figure (see tool.h).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "ot/benchmarks/w2bench.h"
#include "ot/solvers/w2_solver.h"
#include "tools/common/seed_mix.h"
#include "tools/common/cli.h"
#include "tools/common/device_flag.h"
#include "tools/common/progress.h"
#include "tools/common/results.h"
#include "tools/common/shared_data.h"
#include "tools/common/stop_signal.h"
#include "tools/w2bench/tool.h"

namespace brenier::w2bench_tool {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

using tools::mix;  // tools/common/seed_mix.h

fs::path checkpoint_path(const fs::path& out, int64_t dim) {
  return out / "checkpoints" / fmt::format("dim{}.safetensors", dim);
}

// The cumulative training seconds metrics.jsonl recorded for `dim` when its checkpoint was at `step`
// (the record written right after that checkpoint); 0 when there is none (e.g. a crash in between).
double recorded_seconds(const fs::path& metrics, int64_t dim, int64_t step) {
  std::ifstream in(metrics);
  double seconds = 0;
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!record.is_object() || record.value("dim", int64_t{-1}) != dim || record.value("step", int64_t{-1}) != step ||
        !record.contains("elapsed") || !record["elapsed"].is_number() || record.value("event", "") == "diverged")
      continue;
    seconds = record["elapsed"].get<double>();
  }
  return seconds;
}

// Refuses to mix runs: a fresh run needs a folder without a run in it, --resume one whose solver,
// batch, seed and pre-training match (dims and iters may change: adding dims or steps is resuming).
void prepare_run_folder(const TrainOptions& opt, const fs::path& out) {
  const fs::path config_file = out / "config.json";
  if (!opt.resume) {
    BRENIER_CHECK(!fs::exists(config_file),
                  "--out: '{}' already holds a w2bench run (config.json); pass --resume to continue it, or choose "
                  "another folder",
                  out.string());
  } else {
    BRENIER_CHECK(fs::is_regular_file(config_file),
                  "--resume: '{}' holds no w2bench run to continue (no config.json); run without --resume first",
                  out.string());
    nlohmann::json previous;
    try {
      std::ifstream in(config_file);
      previous = nlohmann::json::parse(in).at("options");
    } catch (const nlohmann::json::exception& e) {
      throw Error(fmt::format("--resume: '{}' is not a w2bench config.json: {}", config_file.string(), e.what()));
    }
    auto require_same = [&](const char* key, const nlohmann::json& now, const char* flag) {
      BRENIER_CHECK(previous.contains(key) && previous[key] == now,
                    "--resume: the run in '{}' used {} {}, but this command asks for {}; resume with the same {}",
                    out.string(), flag, previous.contains(key) ? previous[key].dump() : "(unknown)", now.dump(), flag);
    };
    require_same("solver", opt.solver, "--solver");
    require_same("batch", opt.batch, "--batch");
    require_same("seed", opt.seed, "--seed");
    require_same("pretrain", opt.pretrain, "--no-pretrain (pre-training)");
    require_same("strong_convexity", opt.strong_convexity, "--strong-convexity");
    require_same("cosine_decay", opt.cosine_decay, "--lr-schedule (cosine decay)");
  }
  for (const fs::path& dir : {out, out / "figures", out / "checkpoints"}) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    BRENIER_CHECK(!ec, "--out: cannot create '{}': {}", dir.string(), ec.message());
  }
}

void validate(const TrainOptions& opt) {
  const std::vector<int64_t>& available = ot::w2bench_dims();
  for (size_t i = 0; i < opt.dims.size(); ++i) {
    const int64_t d = opt.dims[i];
    BRENIER_CHECK(std::find(available.begin(), available.end(), d) != available.end(),
                  "--dims: the benchmark has no dimension {}; available dimensions: {}", d, fmt::join(available, ","));
    BRENIER_CHECK(std::find(opt.dims.begin(), opt.dims.begin() + static_cast<std::ptrdiff_t>(i), d) ==
                      opt.dims.begin() + static_cast<std::ptrdiff_t>(i),
                  "--dims: dimension {} is listed twice", d);
  }
  BRENIER_CHECK(opt.iters >= 1, "--iters: must be >= 1, got {}", opt.iters);
  BRENIER_CHECK(opt.batch >= 2, "--batch: must be >= 2 (MM-B pairs points within a batch), got {}", opt.batch);
  BRENIER_CHECK(!opt.resume || !opt.out.empty(), "--resume: needs --out, the folder of the run to continue");
  tools::parse_device_flag(opt.device);
}

ot::W2SolverConfig solver_config(const TrainOptions& opt, int64_t dim) {
  ot::W2SolverConfig config;
  config.method = ot::parse_w2_method(opt.solver);
  config.dim = dim;
  config.batch = opt.batch;
  config.iters = opt.iters;
  config.seed = opt.seed;
  config.pretrain.enabled = opt.pretrain;
  config.strong_convexity = opt.strong_convexity;
  config.cosine_decay = opt.cosine_decay;
  config.device = tools::parse_device_flag(opt.device);
  return config;
}

// Trains (or continues) one dimension. Leaves the networks to score in `solver` (the last good
// checkpoint's after a divergence; null when not even one was written) and fills the training part
// of `result`.
std::unique_ptr<ot::W2Solver> train_dim(const TrainOptions& opt, const ot::W2Benchmark& bench, const fs::path& out,
                                        DimResult& result) {
  const int64_t dim = bench.dim();
  const fs::path checkpoint = checkpoint_path(out, dim), metrics = out / "metrics.jsonl";
  auto solver = std::make_unique<ot::W2Solver>(solver_config(opt, dim));
  double seconds_before = 0;
  bool have_checkpoint = false;
  if (opt.resume && fs::exists(checkpoint)) {
    solver->load(checkpoint.string());
    seconds_before = recorded_seconds(metrics, dim, solver->steps_done());
    have_checkpoint = result.resumed = true;
    if (!opt.quiet)
      std::cerr << fmt::format(
          "dim {}: {} from {} (step {})\n", dim,
          solver->steps_done() >= opt.iters ? "finished in an earlier session, re-scoring" : "resuming",
          checkpoint.string(), solver->steps_done());
  }

  const auto start = Clock::now();
  auto elapsed = [&] { return seconds_before + seconds_since(start); };
  auto save = [&](nlohmann::json record) {  // checkpoint first: a metrics record implies its checkpoint
    solver->save(checkpoint.string());
    have_checkpoint = true;
    record["dim"] = dim;
    record["step"] = solver->steps_done();
    record["elapsed"] = elapsed();
    tools::append_jsonl(metrics, record);
  };

  // The batches of step k come from offset training_offset(k) of the dimension's training stream.
  Generator train_gen = stream(opt.seed, dim, Stream::Training);
  auto source = [&](int64_t n) { return bench.sample_source(n, train_gen); };
  // T*(x) is computed where the benchmark's potentials live (the solver's device, see run()).
  auto target = [&](int64_t n) { return bench.map(bench.sample_source(n, train_gen).to(bench.device())); };

  // Monitoring pairs, the same at every checkpoint of the dimension (and across resumed sessions).
  Generator monitor_gen = stream(opt.seed, dim, Stream::Monitor);
  const ot::W2Benchmark::Pair monitor = bench.sample_pair(kMonitorSamples, monitor_gen);

  const int64_t first_step = solver->steps_done();
  std::unique_ptr<tools::Progress> progress;
  double loss_sum = 0;
  int64_t loss_count = 0;
  bool in_solver = false;  // only the solver's errors mean divergence; a failed write is reported as such
  try {
    if (opt.pretrain && !solver->pretrained() && first_step == 0) {
      if (!opt.quiet) std::cerr << fmt::format("dim {}: identity pre-training ... ", dim) << std::flush;
      in_solver = true;
      const ot::IdentityPretrainResult pre = solver->pretrain();
      in_solver = false;
      result.pretrain_iterations = pre.iterations;
      result.pretrain_mse = pre.mse;
      if (!opt.quiet)
        std::cerr << fmt::format("{} iterations, MSE {:.2e} ({:.1f} s)\n", pre.iterations, pre.mse, elapsed());
      save({{"event", "pretrained"}, {"pretrain_iterations", pre.iterations}, {"pretrain_mse", pre.mse}});
    }
    if (first_step < opt.iters) {
      const std::string label = first_step == 0 ? fmt::format("dim {} {}", dim, opt.solver)
                                                : fmt::format("dim {} {} (from step {})", dim, opt.solver, first_step);
      progress = std::make_unique<tools::Progress>(label, opt.iters - first_step, opt.quiet);
    }
    while (solver->steps_done() < opt.iters) {
      train_gen = stream(opt.seed, dim, Stream::Training, training_offset(solver->steps_done() + 1));
      in_solver = true;
      const ot::W2StepStats stats = solver->step(source, target);
      in_solver = false;
      loss_sum += stats.loss;
      ++loss_count;
      progress->update(stats.step - first_step, {{"loss", stats.loss}, {"w2", stats.w2_estimate}});
      const bool stop = tools::stop_requested();  // Ctrl-C / SIGTERM: save this step and stop
      if (stats.step % kCheckpointEvery == 0 || stats.step == opt.iters || stop) {
        const ot::MapScores now =
            ot::score_maps(bench, monitor, solver->transport(monitor.x), solver->inverse_transport(monitor.y));
        save({{"loss", stats.loss},
              {"loss_mean", loss_sum / static_cast<double>(loss_count)},
              {"w2", stats.w2_estimate},
              {"grad_norm", stats.grad_norm},
              {"monitor_l2uvp_fwd", now.l2uvp_fwd},
              {"monitor_l2uvp_inv", now.l2uvp_inv}});
        loss_sum = 0;
        loss_count = 0;
      }
      if (stop)
        throw tools::Stopped(
            tools::stopped_message(fmt::format("dim {} {}", dim, opt.solver), stats.step, opt.iters, checkpoint));
    }
    if (progress) progress->finish();
  } catch (const Error& e) {
    if (!in_solver) throw;
    progress.reset();  // ends a half-drawn line without claiming the run is done
    result.diverged = true;
    result.error = e.what();
    tools::append_jsonl(metrics, {{"dim", dim},
                                  {"step", solver->steps_done()},
                                  {"event", "diverged"},
                                  {"error", result.error},
                                  {"elapsed", elapsed()}});
    std::cerr << fmt::format("dim {}: training failed: {}\n", dim, result.error);
    if (have_checkpoint) {
      // Score what is on disk (what `push` will use), not the in-memory state next to the blow-up.
      solver = std::make_unique<ot::W2Solver>(solver_config(opt, dim));
      solver->load(checkpoint.string());
      std::cerr << fmt::format("dim {}: kept the last good checkpoint {} (step {}); scoring it\n", dim,
                               checkpoint.string(), solver->steps_done());
    } else {
      std::cerr << fmt::format("dim {}: no checkpoint was written before the failure; nothing to score\n", dim);
      solver.reset();
    }
  }
  result.seconds = elapsed();
  result.iters = solver ? solver->steps_done() : 0;
  if (have_checkpoint) result.checkpoint = fs::relative(checkpoint, out);
  return solver;
}

DimResult run_dim(const TrainOptions& opt, const ot::W2Benchmark& bench, const fs::path& out) {
  DimResult result;
  result.dim = bench.dim();
  std::unique_ptr<ot::W2Solver> solver = train_dim(opt, bench, out, result);

  // Scores on fresh pairs (x, T*(x)) from the evaluation stream: ∇ψ on x, ∇ψ̄ on T*(x) (spec §0).
  Generator eval_gen = stream(opt.seed, result.dim, Stream::Evaluation);
  const ot::W2Benchmark::Pair eval = bench.sample_pair(kEvalSamples, eval_gen);
  Generator baseline_gen = stream(opt.seed, result.dim, Stream::Baseline);
  result.baselines = ot::score_baselines(bench, kBaselineFitSamples, eval, baseline_gen);
  if (!solver) {
    const double nan = std::nan("");
    result.scores = {nan, nan, nan, nan};
    return result;
  }
  const Tensor forward = solver->transport(eval.x), inverse = solver->inverse_transport(eval.y);
  result.scores = ot::score_maps(bench, eval, forward, inverse);
  result.figure = fs::path("figures") / fmt::format("dim{}.png", result.dim);
  save_map_figure(out / result.figure, eval.x, eval.y, forward);
  tools::append_jsonl(out / "metrics.jsonl", {{"dim", result.dim},
                                              {"step", result.iters},
                                              {"event", "scored"},
                                              {"l2uvp_fwd", result.scores.l2uvp_fwd},
                                              {"l2uvp_inv", result.scores.l2uvp_inv},
                                              {"cos_fwd", result.scores.cos_fwd},
                                              {"cos_inv", result.scores.cos_inv}});
  return result;
}

}  // namespace

Generator stream(uint64_t seed, int64_t dim, Stream role, uint64_t offset) {
  Generator gen(seed);
  gen.set_state(mix(seed ^ mix((static_cast<uint64_t>(dim) << 8) | static_cast<uint64_t>(role))), offset);
  return gen;
}

// 2^36 stream elements per step: far more than any step draws (MM at batch 4096 in dim 128 draws ~10^7).
uint64_t training_offset(int64_t step) { return static_cast<uint64_t>(step) << 36; }

std::string resolve_shared_dir(const std::string& flag) {
  return tools::resolve_shared_dir(flag, "data/w2bench", "w2bench");
}

int run_train(const TrainOptions& options) {
  validate(options);
  RunConfig config{options, fs::absolute(resolve_shared_dir(options.shared)).lexically_normal().string()};
  // Load every dimension first, so that a missing or broken one fails before hours of training.
  std::vector<ot::W2Benchmark> benches;
  for (int64_t d : options.dims) benches.push_back(ot::load_w2bench(d, config.shared_dir));
  // The target sampler's T*(x) runs beside the solver (the potentials are as big as the solver's ICNNs).
  const Device device = tools::parse_device_flag(options.device);
  for (ot::W2Benchmark& bench : benches) bench.to(device);
  ot::parse_w2_method(options.solver);

  if (config.options.out.empty()) config.options.out = tools::make_run_dir("runs", "w2bench", options.solver);
  const fs::path out = config.options.out;
  prepare_run_folder(options, out);
  tools::write_json(out / "config.json", config_json(config));

  std::vector<DimResult> results;
  for (const ot::W2Benchmark& bench : benches) {
    results.push_back(run_dim(options, bench, out));
    write_results(out, config, results);  // after every dim, so a long run shows its progress
  }
  std::cout << comparison_markdown(config, results) << "\nresults in " << out.string() << "\n";

  std::vector<int64_t> diverged;
  for (const DimResult& r : results)
    if (r.diverged) diverged.push_back(r.dim);
  if (diverged.empty()) return tools::kExitOk;
  std::cerr << fmt::format(
      "error: training diverged in dim {}; where a checkpoint had been written, the last good one is kept and "
      "scored (see results.md)\n",
      fmt::join(diverged, ", "));
  return kExitDiverged;
}

}  // namespace brenier::w2bench_tool
