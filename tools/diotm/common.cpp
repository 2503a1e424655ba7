// The diotm tool's shared parts: random streams, option checks, the run folder and --resume checks, the
// solver configuration, and the unit runner with checkpoints and divergence handling (see tool.h).
#include <fmt/format.h>

#include <chrono>
#include <fstream>
#include <iostream>

#include "tools/common/device_flag.h"
#include "tools/common/seed_mix.h"
#include "tools/common/run_folder.h"
#include "tools/common/progress.h"
#include "tools/common/stop_signal.h"
#include "tools/common/results.h"
#include "tools/diotm/tool.h"

namespace brenier::diotm_tool {
namespace {

using Clock = std::chrono::steady_clock;

using tools::mix;  // tools/common/seed_mix.h

// The cumulative seconds metrics.jsonl recorded for `unit` at `step` (0 when none).
double recorded_seconds(const fs::path& metrics, const std::string& unit, int64_t step) {
  std::ifstream in(metrics);
  double seconds = 0;
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json r = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!r.is_object() || r.value("unit", "") != unit || r.value("step", int64_t{-1}) != step ||
        !r.contains("elapsed") || !r["elapsed"].is_number() || r.value("event", "") == "diverged")
      continue;
    seconds = r["elapsed"].get<double>();
  }
  return seconds;
}

}  // namespace

Generator stream(uint64_t seed, uint64_t unit, Stream role, uint64_t offset) {
  Generator gen(seed);
  // The tag keeps these streams apart from other tools' streams of the same seed.
  gen.set_state(mix(seed ^ mix(unit * 8 + static_cast<uint64_t>(role)) ^ (0xD107ULL << 44)), offset);
  return gen;
}

uint64_t training_offset(int64_t step) { return static_cast<uint64_t>(step) << 36; }

uint64_t unit_id(const std::string& name) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ULL;
  return h;
}

void validate_common(const CommonOptions& opt) {
  tools::parse_device_flag(opt.device);  // cuda needs a CUDA build and a GPU here
  BRENIER_CHECK(opt.iters >= 1, "--iters: must be >= 1, got {}", opt.iters);
  BRENIER_CHECK(opt.batch >= 1, "--batch: must be >= 1, got {}", opt.batch);
  BRENIER_CHECK(opt.checkpoint_every >= 1, "--checkpoint-every: must be >= 1, got {}", opt.checkpoint_every);
  BRENIER_CHECK(std::isfinite(opt.alpha) && opt.alpha > 0, "--alpha: must be finite and > 0, got {}", opt.alpha);
  BRENIER_CHECK(std::isfinite(opt.reg_weight) && opt.reg_weight >= 0, "--lambda: must be finite and >= 0, got {}",
                opt.reg_weight);
  BRENIER_CHECK(opt.potential_steps >= 1, "--kv: must be >= 1, got {}", opt.potential_steps);
  BRENIER_CHECK(opt.map_steps >= 1, "--kt: must be >= 1, got {}", opt.map_steps);
  BRENIER_CHECK(std::isfinite(opt.map_lr) && opt.map_lr > 0, "--lr-map: must be finite and > 0, got {}", opt.map_lr);
  BRENIER_CHECK(std::isfinite(opt.potential_lr) && opt.potential_lr > 0,
                "--lr-potential: must be finite and > 0, got {}", opt.potential_lr);
  BRENIER_CHECK(!opt.resume || !opt.out.empty(), "--resume: needs --out, the folder of the run to continue");
}

void prepare_run_folder(const CommonOptions& opt, const fs::path& out, const nlohmann::json& options_json,
                        const std::vector<std::string>& keys, const char* experiment) {
  tools::prepare_run_folder("diotm", experiment, out, opt.resume, options_json, keys, {"checkpoints", "figures"});
}

nlohmann::json common_json(const CommonOptions& opt) {
  return {{"iters", opt.iters},
          {"batch", opt.batch},
          {"alpha", opt.alpha},
          {"regularizer", opt.regularizer},
          {"hjb_norm", opt.hjb_norm},
          {"lambda", opt.reg_weight},
          {"kv", opt.potential_steps},
          {"kt", opt.map_steps},
          {"lr_map", opt.map_lr},
          {"lr_potential", opt.potential_lr},
          {"seed", opt.seed},
          {"device", opt.device}};
}

ot::DiotmConfig solver_config(const CommonOptions& opt, int64_t dim) {
  ot::DiotmConfig c;
  c.dim = dim;
  c.alpha = opt.alpha;
  c.regularizer = ot::parse_diotm_regularizer(opt.regularizer);
  c.hjb_norm = ot::parse_hjb_norm(opt.hjb_norm);
  c.reg_weight = opt.reg_weight;
  c.potential_steps = opt.potential_steps;
  c.map_steps = opt.map_steps;
  c.map_lr = opt.map_lr;
  c.potential_lr = opt.potential_lr;
  c.batch = opt.batch;
  c.seed = opt.seed;
  c.device = tools::parse_device_flag(opt.device);
  return c;
}

std::string choices_markdown(const CommonOptions& opt, const ot::DiotmConfig& c, const std::string& regularizers) {
  const std::string networks =
      c.architecture == ot::DiotmArchitecture::Mlp
          ? fmt::format("- maps x + MLP(x), {} → {} → {} (SiLU, zero-initialized output: identity at start); "
                        "potential MLP on [x, sinusoidal(t)] with a {}-d embedding (max_positions {}, t unscaled), "
                        "widths {} (§4.3).\n",
                        c.dim, fmt::join(c.map_hidden, " → "), c.dim, c.time.dim, c.time.max_positions,
                        fmt::join(c.potential_hidden, " → "))
          : fmt::format("- maps x + UNet(x) on {}×{}×{} images (ot/layers/conv_unet_map.h: {} base channels, two "
                        "stride-2 levels with skips, SiLU, zero-initialized output); potential: three SiLU "
                        "convolutions, then an MLP on [features, {}-d sinusoidal(t)] (conv_time_potential.h). "
                        "Ours, CPU-sized: the paper's NCSN++ / DDGAN networks (§4.3) are far larger.\n",
                        c.image.channels, c.image.height, c.image.width, c.conv_channels, c.time.dim);
  return fmt::format(
      "Choices (spec/algorithms.md §4; the paper's text and code are not available, so §4.2's objective is a "
      "derivation):\n"
      "- cost α‖x − y‖² with α = {} (§4.1–4.2); HJB residual ∂ₜṼ + ‖∇ₓṼ‖²/(4α), ∂ₜ and ∇ₓ by autodiff, "
      "differentiated again w.r.t. the potential's weights.\n"
      "- time sampling: t ~ U[0, 1] independently per point, separately for the x side and the y side, fresh at "
      "every update (§4.2).\n"
      "- regularizer {} with λ = {} ({} residual for hjb; |·| is the spec's form, the paper's is unverified; r1 = "
      "mean ½‖∇ₓṼ‖² at the same points). λ is not in the spec; 0.1 is our default (see docs/diotm.md).\n"
      "- K_V = {} potential updates then K_T = {} map updates per step; Adam β = ({}, {}), lr maps {}, lr "
      "potential {} (§4.2, the authors' previous code).\n"
      "{}"
      "- batch {} per side per update (ours; not in the spec).\n",
      c.alpha, regularizers.empty() ? fmt::format("`{}`", opt.regularizer) : regularizers, c.reg_weight, opt.hjb_norm, c.potential_steps, c.map_steps, c.beta1, c.beta2,
      c.map_lr, c.potential_lr, networks, c.batch);
}

UnitResult train_unit(const CommonOptions& opt, int64_t iters, Unit& unit, const fs::path& out) {
  UnitResult result;
  const fs::path checkpoint = out / "checkpoints" / (unit.name + ".safetensors"), metrics = out / "metrics.jsonl";
  const uint64_t id = unit_id(unit.name);
  auto solver = std::make_unique<ot::DiotmSolver>(unit.config);
  double seconds_before = 0;
  bool have_checkpoint = false;
  if (opt.resume && fs::exists(checkpoint)) {
    solver->load(checkpoint.string());
    seconds_before = recorded_seconds(metrics, unit.name, solver->steps_done());
    have_checkpoint = result.resumed = true;
    if (!opt.quiet)
      std::cerr << fmt::format("{}: {} from {} (step {})\n", unit.name,
                               solver->steps_done() >= iters ? "finished earlier, re-scoring" : "resuming",
                               checkpoint.string(), solver->steps_done());
  }
  const auto start = Clock::now();
  auto elapsed = [&] { return seconds_before + std::chrono::duration<double>(Clock::now() - start).count(); };
  auto save = [&](nlohmann::json record) {
    solver->save(checkpoint.string());
    have_checkpoint = true;
    record["unit"] = unit.name;
    record["step"] = solver->steps_done();
    record["elapsed"] = elapsed();
    tools::append_jsonl(metrics, record);
  };
  const int64_t first_step = solver->steps_done();
  std::unique_ptr<tools::Progress> progress;
  double train_seconds = 0;
  bool in_solver = false;  // only the solver's own errors count as divergence; I/O errors propagate
  try {
    if (first_step < iters)
      progress = std::make_unique<tools::Progress>(unit.name, iters - first_step, opt.quiet);
    while (solver->steps_done() < iters) {
      Generator gen = stream(opt.seed, id, Stream::Training, training_offset(solver->steps_done() + 1));
      auto source = [&](int64_t n) { return unit.source(n, gen); };
      auto target = [&](int64_t n) { return unit.target(n, gen); };
      const auto t0 = Clock::now();
      in_solver = true;
      const ot::DiotmStepStats stats = solver->step(source, target);
      in_solver = false;
      train_seconds += std::chrono::duration<double>(Clock::now() - t0).count();
      progress->update(stats.step - first_step, {{"obj", stats.objective}, {"cost", stats.transport_cost}});
      const bool stop = tools::stop_requested();  // Ctrl-C / SIGTERM: save this step and stop
      if (stats.step % opt.checkpoint_every == 0 || stats.step == iters || stop)
        save({{"objective", stats.objective},
              {"potential_loss", stats.potential_loss},
              {"regularizer", stats.regularizer},
              {"transport_cost", stats.transport_cost},
              {"map_grad_norm", stats.map_grad_norm},
              {"potential_grad_norm", stats.potential_grad_norm}});
      if (stop) throw tools::Stopped(tools::stopped_message(unit.name, stats.step, iters, checkpoint));
    }
    if (progress) progress->finish();
  } catch (const Error& e) {
    if (!in_solver) throw;
    progress.reset();
    result.diverged = true;
    result.error = e.what();
    tools::append_jsonl(metrics, {{"unit", unit.name}, {"step", solver->steps_done()}, {"event", "diverged"},
                                  {"error", result.error}, {"elapsed", elapsed()}});
    std::cerr << fmt::format("{}: training failed: {}\n", unit.name, result.error);
    solver = std::make_unique<ot::DiotmSolver>(unit.config);
    if (have_checkpoint)
      solver->load(checkpoint.string());
    else
      solver.reset();
  }
  const int64_t trained = (solver ? solver->steps_done() : first_step) - first_step;
  result.seconds = elapsed();
  result.seconds_per_step = trained > 0 ? train_seconds / static_cast<double>(trained) : 0.0;
  result.iters = solver ? solver->steps_done() : 0;
  result.solver = std::move(solver);
  return result;
}

}  // namespace brenier::diotm_tool
