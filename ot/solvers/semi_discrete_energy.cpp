// Monte-Carlo gradient of the semi-discrete energy and pyOMT's adaptive batch count (see
// semi_discrete_energy.h).
#include "ot/solvers/semi_discrete_energy.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/backend/primitives.h"

namespace brenier::ot {

DiscreteTargets check_discrete_targets(const Tensor& points, const Tensor& weights, const char* op) {
  check_defined(points, op, "targets");
  BRENIER_CHECK(points.dim() == 2 && points.size(0) >= 1 && points.size(1) >= 1 && is_floating(points.dtype()),
                "{}: argument 'targets' must be a floating [n, d] tensor with n, d >= 1 (a non-empty target set), "
                "got {}",
                op, points.str());
  check_finite(points, op, "targets");
  const int64_t n = points.size(0);
  DiscreteTargets out{points, Tensor()};
  if (!weights.defined()) {
    out.weights = Tensor::full({n}, 1.0 / static_cast<double>(n), DType::F64);
    return out;
  }
  BRENIER_CHECK(weights.shape() == Shape{n} && is_floating(weights.dtype()),
                "{}: argument 'target_weights' must be a floating [{}] tensor (one weight per target), got {}", op, n,
                weights.str());
  check_finite(weights, op, "target_weights");
  out.weights = weights.to(Device::cpu()).to(DType::F64).clone();
  const double* w = out.weights.data<double>();
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    BRENIER_CHECK(w[i] > 0, "{}: argument 'target_weights' must be > 0 everywhere (drop zero-mass targets), got {} "
                  "at index {}", op, w[i], i);
    total += w[i];
  }
  BRENIER_CHECK(std::abs(total - 1.0) <= 1e-6,
                "{}: argument 'target_weights' must sum to 1 (a probability vector ν), got a sum of {}", op, total);
  return out;
}

void check_monte_carlo_config(const MonteCarloConfig& c, const char* op) {
  BRENIER_CHECK(c.batch_size >= 1, "{}: option 'monte_carlo.batch_size' must be >= 1, got {}", op, c.batch_size);
  BRENIER_CHECK(c.initial_batches >= 1, "{}: option 'monte_carlo.initial_batches' must be >= 1, got {}", op,
                c.initial_batches);
  BRENIER_CHECK(c.patience >= 1, "{}: option 'monte_carlo.patience' must be >= 1, got {}", op, c.patience);
  BRENIER_CHECK(c.max_batches >= c.initial_batches,
                "{}: option 'monte_carlo.max_batches' must be >= initial_batches ({}), got {}", op, c.initial_batches,
                c.max_batches);
}

AdaptiveBatches::AdaptiveBatches(const MonteCarloConfig& config) : config_(config), batches_(config.initial_batches) {
  check_monte_carlo_config(config, "AdaptiveBatches");
}

void AdaptiveBatches::set_batches(int64_t batches) {
  BRENIER_CHECK(batches >= 1 && batches <= config_.max_batches,
                "AdaptiveBatches: argument 'batches' must be in [1, {}], got {}", config_.max_batches, batches);
  batches_ = batches;
  bad_steps_ = 0;
  has_best_ = false;
}

void AdaptiveBatches::set_state(const State& state) {
  set_batches(state.batches);
  BRENIER_CHECK(state.bad_steps >= 0 && (!state.has_best || std::isfinite(state.best)),
                "AdaptiveBatches: a state needs bad_steps >= 0 and a finite best, got {} and {}", state.bad_steps,
                state.best);
  bad_steps_ = state.bad_steps;
  best_ = state.best;
  has_best_ = state.has_best;
}

bool AdaptiveBatches::observe(double grad_norm) {
  if (!has_best_ || grad_norm <= best_) {
    best_ = grad_norm;
    has_best_ = true;
    bad_steps_ = 0;
    return false;
  }
  if (++bad_steps_ < config_.patience || batches_ >= config_.max_batches) return false;
  batches_ = std::min(config_.max_batches, 2 * batches_);
  bad_steps_ = 0;
  has_best_ = false;  // the noise floor just dropped: a new best is measured from here
  return true;
}

EnergyGradient estimate_energy_gradient(const SourceSampler& sampler, Generator& gen, int64_t batches,
                                        int64_t batch_size, const Tensor& targets, const Tensor& heights,
                                        const Tensor& weights, const CellAssignmentOptions& cells) {
  const char* op = "estimate_energy_gradient";
  BRENIER_CHECK(static_cast<bool>(sampler), "{}: argument 'sampler' is empty", op);
  BRENIER_CHECK(batches >= 1 && batch_size >= 1, "{}: arguments 'batches' and 'batch_size' must be >= 1, got {} and {}",
                op, batches, batch_size);
  const int64_t n = targets.size(0), d = targets.size(1);
  BRENIER_CHECK(weights.defined() && weights.shape() == Shape{n} && weights.dtype() == DType::F64 &&
                    weights.device().is_cpu(),
                "{}: argument 'weights' must be f64 [{}] on the CPU, got {}", op, n,
                weights.defined() ? weights.str() : std::string("undefined"));
  // Heights come from an optimizer or a network: a diverged step shows up here, by name.
  check_finite(heights, op, "heights");

  CellAssignmentOptions options = cells;
  options.top_k = 0;
  options.counts = true;
  options.check_finite = false;  // each batch is checked below, on the host
  Tensor counts, score_sum;  // accumulated on the device: one host copy per call, not per batch
  for (int64_t b = 0; b < batches; ++b) {
    Tensor x = sampler(gen, batch_size);
    check_defined(x, op, "sampler's batch");
    BRENIER_CHECK(x.dim() == 2 && x.size(0) == batch_size && x.size(1) == d && is_floating(x.dtype()),
                  "{}: the sampler must return floating [{}, {}] (count × the targets' dimension), got {}", op,
                  batch_size, d, x.str());
    check_finite(x, op, "sampler's batch");
    x = x.to(targets.dtype()).to(targets.device());
    CellAssignment a = assign_cells(x, targets, heights, options);
    Tensor s = prim::reduce(prim::Reduce::Sum, a.max_score.to(DType::F64), {}, false);
    counts = counts.defined() ? prim::binary(prim::Binary::Add, counts, a.counts) : a.counts;
    score_sum = score_sum.defined() ? prim::binary(prim::Binary::Add, score_sum, s) : s;
  }

  EnergyGradient out;
  out.samples = batches * batch_size;
  out.counts = counts.to(Device::cpu());
  const int64_t* k = out.counts.data<int64_t>();
  const double* nu = weights.data<double>();
  std::vector<double> g(static_cast<size_t>(n));
  double sq = 0;
  for (int64_t i = 0; i < n; ++i) {
    g[i] = static_cast<double>(k[i]) / static_cast<double>(out.samples) - nu[i];
    sq += g[i] * g[i];
    out.max_error_ratio = std::max(out.max_error_ratio, std::abs(g[i]) / nu[i]);
    out.empty_cells += k[i] == 0;
  }
  out.norm = std::sqrt(sq);
  const std::vector<double> h = heights.to_vector<double>();
  double nu_h = 0;
  for (int64_t i = 0; i < n; ++i) nu_h += nu[i] * h[i];
  out.energy = score_sum.item() / static_cast<double>(out.samples) - nu_h;
  out.gradient = Tensor::from_vector(g).to(targets.dtype()).to(targets.device());
  return out;
}

SemiDiscreteStepStats step_stats(const EnergyGradient& g, int64_t step, double tolerance) {
  SemiDiscreteStepStats stats;
  stats.step = step;
  stats.grad_norm = g.norm;
  stats.max_error_ratio = g.max_error_ratio;
  stats.empty_cells = g.empty_cells;
  stats.energy = g.energy;
  stats.mc_samples = g.samples;
  stats.converged = g.norm < tolerance;
  return stats;
}

double decayed_lr(double lr, double lr_final, int64_t step, int64_t max_iter) {
  const double progress =
      max_iter > 1 ? std::clamp(static_cast<double>(step - 1) / static_cast<double>(max_iter - 1), 0.0, 1.0) : 1.0;
  return lr * std::pow(lr_final / lr, progress);
}

void run_until_converged(const std::function<SemiDiscreteStepStats()>& step, int64_t max_iter,
                         const std::function<void(const SemiDiscreteStepStats&)>& on_step,
                         SemiDiscreteSolveResult& result) {
  while (result.iterations < max_iter) {
    const SemiDiscreteStepStats stats = step();
    ++result.iterations;
    result.grad_norm = stats.grad_norm;
    if (on_step) on_step(stats);
    if (stats.converged) {
      result.converged = true;
      return;
    }
  }
}

}  // namespace brenier::ot
