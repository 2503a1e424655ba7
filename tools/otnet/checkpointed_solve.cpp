// The otnet experiments' solves with checkpoints, --resume and a clean stop on Ctrl-C / SIGTERM (see tool.h,
// "checkpointed solves").
#include <fmt/format.h>

#include <chrono>
#include <map>
#include <string>

#include "tools/common/progress.h"
#include "tools/common/stop_signal.h"
#include "tools/otnet/tool.h"

namespace brenier::otnet_tool {
namespace {

using Metadata = std::map<std::string, std::string>;

std::string exact(double v) { return fmt::format("{:.17g}", v); }

Metadata result_metadata(const ot::SemiDiscreteSolveResult& r) {
  return {{"run.status", "done"},
          {"run.converged", r.converged ? "true" : "false"},
          {"run.grad_norm", exact(r.grad_norm)},
          {"run.mc_samples", std::to_string(r.mc_samples)},
          {"run.seconds", exact(r.seconds)}};
}
Metadata result_metadata(const ot::HeightNetworkSolveResult& r) {
  Metadata m = result_metadata(static_cast<const ot::SemiDiscreteSolveResult&>(r));
  m["run.eval_grad_norm"] = exact(r.eval_grad_norm);
  return m;
}

const std::string& field(const Metadata& m, const std::string& key, const fs::path& path) {
  const auto it = m.find(key);
  BRENIER_CHECK(it != m.end(), "--resume: '{}' lacks '{}' (not a checkpoint of an otnet solve?)", path.string(), key);
  return it->second;
}

double number(const Metadata& m, const std::string& key, const fs::path& path) {
  const std::string& text = field(m, key, path);
  try {
    return std::stod(text);
  } catch (const std::exception&) {
    throw Error(fmt::format("--resume: '{}': '{}' is not a number: '{}'", path.string(), key, text));
  }
}

void read_result(const Metadata& m, const fs::path& path, ot::SemiDiscreteSolveResult& r) {
  r.converged = field(m, "run.converged", path) == "true";
  r.grad_norm = number(m, "run.grad_norm", path);
  r.mc_samples = static_cast<int64_t>(number(m, "run.mc_samples", path));
  r.seconds = number(m, "run.seconds", path);
}
void read_result(const Metadata& m, const fs::path& path, ot::HeightNetworkSolveResult& r) {
  read_result(m, path, static_cast<ot::SemiDiscreteSolveResult&>(r));
  r.eval_grad_norm = number(m, "run.eval_grad_norm", path);
}

template <class Solver, class Result>
Result checkpointed_solve(Solver& solver, const ot::SourceSampler& source, const std::string& label, bool quiet,
                          const SolveCheckpoints& checkpoints, const std::string& name) {
  const auto start = std::chrono::steady_clock::now();
  const fs::path path = checkpoints.dir.empty() ? fs::path() : checkpoints.dir / (name + ".safetensors");
  double earlier_seconds = 0;  // solve time of earlier sessions
  if (checkpoints.resume && !path.empty() && fs::exists(path)) {
    const Metadata m = solver.load(path.string());
    if (field(m, "run.status", path) == "done") {
      Result r;
      read_result(m, path, r);
      r.iterations = solver.steps_done();
      return r;
    }
    earlier_seconds = number(m, "run.seconds", path);
  }
  const int64_t max_iter = solver.config().max_iter;
  int64_t saved_step = -1;  // the step of the last checkpoint written, -1: none
  auto seconds_so_far = [&] {
    return earlier_seconds + std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  auto save_running = [&] {
    solver.save(path.string(), {{"run.status", "running"}, {"run.seconds", exact(seconds_so_far())}});
    saved_step = solver.steps_done();
  };
  tools::Progress progress(label, max_iter, quiet);
  progress.resume_from(solver.steps_done());
  try {
    Result r = solver.solve(source, [&](const ot::SemiDiscreteStepStats& s) {
      progress.update(s.step, {{"|dE|", s.grad_norm}, {"N", static_cast<double>(s.mc_samples)}});
      if (tools::stop_requested()) {
        if (path.empty()) throw tools::Stopped(fmt::format("{}: stopped at step {}; nothing was saved", label, s.step));
        save_running();
        throw tools::Stopped(tools::stopped_message(label, s.step, max_iter, path));
      }
      // The last step is saved as "done" right after solve() returns.
      const bool last = s.converged || s.step >= max_iter;
      if (!path.empty() && checkpoints.every > 0 && s.step % checkpoints.every == 0 && !last) save_running();
    });
    progress.finish();
    r.iterations = solver.steps_done();
    r.seconds += earlier_seconds;
    if (!path.empty()) solver.save(path.string(), result_metadata(r));
    return r;
  } catch (const Error& e) {
    const std::string kept =
        saved_step >= 0 ? fmt::format(" (the checkpoint of step {} is kept in '{}')", saved_step, path.string()) : "";
    throw DivergedError(
        fmt::format("{}: the solver failed after {} steps: {}{}", label, solver.steps_done(), e.what(), kept));
  }
}

}  // namespace

SolveCheckpoints solve_checkpoints(const CommonOptions& opt, const fs::path& out) {
  return {.dir = out / "checkpoints", .resume = opt.resume, .every = opt.checkpoint_every};
}

std::string ratio_checkpoint_name(const std::string& stem, double ratio) {
  return fmt::format("{}_r{}", stem, ratio);
}

ot::HeightNetworkSolveResult solve_network(ot::HeightNetworkSolver& solver, const ot::SourceSampler& source,
                                           const std::string& label, bool quiet, const SolveCheckpoints& checkpoints,
                                           const std::string& name) {
  return checkpointed_solve<ot::HeightNetworkSolver, ot::HeightNetworkSolveResult>(solver, source, label, quiet,
                                                                                   checkpoints, name);
}

ot::SemiDiscreteSolveResult solve_free(ot::FreeHeightSolver& solver, const ot::SourceSampler& source,
                                       const std::string& label, bool quiet, const SolveCheckpoints& checkpoints,
                                       const std::string& name) {
  return checkpointed_solve<ot::FreeHeightSolver, ot::SemiDiscreteSolveResult>(solver, source, label, quiet,
                                                                               checkpoints, name);
}

}  // namespace brenier::otnet_tool
