// AE-OT's free-height semi-discrete solver (see semi_discrete_solver.h).
#include "ot/solvers/semi_discrete_solver.h"

#include <chrono>
#include <cmath>

#include "engine/backend/primitives.h"
#include "engine/io/checkpoint.h"
#include "engine/ops/ops.h"
#include "ot/solvers/checkpoint_names.h"
#include "ot/solvers/semi_discrete_progress.h"

namespace brenier::ot {
namespace {

constexpr const char* kOp = "FreeHeightSolver";

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

const FreeHeightSolverConfig& checked(const FreeHeightSolverConfig& c) {
  BRENIER_CHECK(std::isfinite(c.lr) && c.lr > 0, "{}: option 'lr' must be finite and > 0, got {}", kOp, c.lr);
  BRENIER_CHECK(std::isfinite(c.tolerance) && c.tolerance > 0, "{}: option 'tolerance' must be finite and > 0, got {}",
                kOp, c.tolerance);
  BRENIER_CHECK(std::isfinite(c.lr_final) && c.lr_final >= 0,
                "{}: option 'lr_final' must be finite and >= 0 (0: constant lr), got {}", kOp, c.lr_final);
  BRENIER_CHECK(c.max_iter >= 1, "{}: option 'max_iter' must be >= 1, got {}", kOp, c.max_iter);
  BRENIER_CHECK(is_floating(c.dtype), "{}: option 'dtype' must be f32 or f64, got {}", kOp, dtype_name(c.dtype));
  check_monte_carlo_config(c.monte_carlo, kOp);
  return c;
}

}  // namespace

Tensor prepare_query_points(const Tensor& x, int64_t dim, DType dtype, Device device, const char* op) {
  check_defined(x, op, "x");
  BRENIER_CHECK(x.dim() == 2 && x.size(0) >= 1 && x.size(1) == dim && is_floating(x.dtype()),
                "{}: argument 'x' must be a floating [m, {}] tensor with m >= 1 (the targets' dimension), got {}", op,
                dim, x.str());
  return x.to(dtype).to(device);
}

FreeHeightSolver::FreeHeightSolver(const Tensor& targets, const Tensor& target_weights, FreeHeightSolverConfig config)
    : config_(checked(config)), adaptive_(config.monte_carlo), gen_(config.seed) {
  DiscreteTargets t = check_discrete_targets(targets, target_weights, kOp);
  targets_ = t.points.to(config_.dtype).to(config_.device);
  weights_ = t.weights;
  heights_ = Var(Tensor::zeros({targets_.size(0)}, config_.dtype, config_.device), /*requires_grad=*/true);
  // pyOMT's update is Adam with bias correction off (spec §6.1), then Σh = 0 (h is defined up to a constant).
  adam_ = std::make_unique<optim::Adam>(
      std::vector<Var>{heights_},
      optim::AdamOptions{.lr = config_.lr, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .bias_correction = false});
  adam_->add_projection(heights_, [](Tensor& h) { h.copy_from((Var(h) - mean(Var(h))).data()); });
}

void FreeHeightSolver::set_heights(const Tensor& heights) {
  check_defined(heights, "FreeHeightSolver::set_heights", "heights");
  BRENIER_CHECK(heights.shape() == Shape{targets_.size(0)} && is_floating(heights.dtype()),
                "FreeHeightSolver::set_heights: argument 'heights' must be a floating [{}] tensor, got {}",
                targets_.size(0), heights.str());
  check_finite(heights, "FreeHeightSolver::set_heights", "heights");
  heights_.data().copy_from(heights);
}

SemiDiscreteStepStats FreeHeightSolver::step(const SourceSampler& source) {
  const auto start = std::chrono::steady_clock::now();
  EnergyGradient g = estimate_energy_gradient(source, gen_, adaptive_.batches(), config_.monte_carlo.batch_size,
                                              targets_, heights_.data(), weights_, config_.cells);
  SemiDiscreteStepStats stats = step_stats(g, ++steps_, config_.tolerance);
  if (!stats.converged) {
    if (config_.lr_final > 0) adam_->set_lr(decayed_lr(config_.lr, config_.lr_final, steps_, config_.max_iter));
    heights_.set_grad(g.gradient);
    adam_->step();
    stats.batches_doubled = adaptive_.observe(g.norm);
  }
  stats.seconds = seconds_since(start);
  return stats;
}

SemiDiscreteSolveResult FreeHeightSolver::solve(const SourceSampler& source,
                                                const std::function<void(const SemiDiscreteStepStats&)>& on_step) {
  const auto start = std::chrono::steady_clock::now();
  SemiDiscreteSolveResult result;
  run_until_converged([&] { return step(source); }, config_.max_iter - steps_, on_step, result);
  result.mc_samples = adaptive_.batches() * config_.monte_carlo.batch_size;
  result.seconds = seconds_since(start);
  return result;
}

void FreeHeightSolver::save(const std::string& path, const std::map<std::string, std::string>& metadata) const {
  std::vector<std::pair<std::string, Tensor>> tensors;
  tensors.emplace_back("heights", heights_.data());
  for (auto& [name, t] : adam_->state()) tensors.emplace_back("adam." + name, t);
  append_progress(tensors, {steps_, adaptive_.state(), gen_.seed(), gen_.offset()});
  io::save_checkpoint(path, tensors,
                      merged_metadata({{"kind", "FreeHeightSolver"},
                                       {"targets", std::to_string(targets_.size(0))},
                                       {"dim", std::to_string(targets_.size(1))}},
                                      metadata, "FreeHeightSolver::save"));
}

std::map<std::string, std::string> FreeHeightSolver::load(const std::string& path) {
  const char* op = "FreeHeightSolver::load";
  io::Checkpoint ck = io::load_checkpoint(path);
  const auto kind = ck.metadata.find("kind");
  BRENIER_CHECK(kind != ck.metadata.end() && kind->second == "FreeHeightSolver",
                "{}: '{}' is not a FreeHeightSolver checkpoint", op, path);
  const auto n = ck.metadata.find("targets"), d = ck.metadata.find("dim");
  BRENIER_CHECK(n != ck.metadata.end() && d != ck.metadata.end() && n->second == std::to_string(targets_.size(0)) &&
                    d->second == std::to_string(targets_.size(1)),
                "{}: '{}' holds a solve of {} targets in dimension {}, this solver has {} in dimension {}", op, path,
                n == ck.metadata.end() ? "?" : n->second, d == ck.metadata.end() ? "?" : d->second, targets_.size(0),
                targets_.size(1));
  BRENIER_CHECK(ck.tensors.count("heights") == 1, "{}: '{}' lacks the entry 'heights'", op, path);
  const SolverProgress progress = read_progress(ck, op, path);
  // All or nothing: check everything before changing anything.
  AdaptiveBatches adaptive(config_.monte_carlo);
  adaptive.set_state(progress.monte_carlo);
  const Tensor heights = ck.tensors.at("heights");
  check_finite(heights, op, "heights");
  const optim::NamedTensors old_adam = adam_->state();
  adam_->load_state(with_prefix(ck.tensors, "adam."));
  try {
    set_heights(heights);
  } catch (const Error&) {
    adam_->load_state(old_adam);
    throw;
  }
  adaptive_ = adaptive;
  steps_ = progress.steps;
  gen_.set_state(progress.generator_seed, progress.generator_offset);
  return ck.metadata;
}

CellAssignment FreeHeightSolver::assign(const Tensor& x, const CellAssignmentOptions& options) const {
  return assign_cells(prepare_query_points(x, targets_.size(1), config_.dtype, config_.device, "FreeHeightSolver::assign"),
                      targets_, heights_.data(), options);
}

Tensor FreeHeightSolver::transport(const Tensor& x) const {
  CellAssignmentOptions options = config_.cells;
  options.top_k = 0;
  options.counts = false;
  const Tensor points = prepare_query_points(x, targets_.size(1), config_.dtype, config_.device, "FreeHeightSolver::transport");
  return prim::index_select(targets_, 0, assign_cells(points, targets_, heights_.data(), options).argmax);
}

}  // namespace brenier::ot
