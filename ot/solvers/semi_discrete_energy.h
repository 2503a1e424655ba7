// The semi-discrete OT energy's Monte-Carlo gradient, shared by the free-height solver (AE-OT) and the
// height-network solver (OT-Net); spec/algorithms.md §6.1.
//
//   u_h(x) = max_i ⟨x, y_i⟩ + h_i,   E(h) = ∫ u_h dμ − Σ_i ν_i h_i (+ const),   ∇E(h)_i = μ(W_i(h)) − ν_i.
//
// μ(W_i) is estimated from fresh samples of μ: ŵ_i = #{x_j ∈ W_i} / N. ‖ĝ‖₂ = ‖ŵ − ν‖₂ is both the
// stopping test (‖ĝ‖ < δ) and the signal of the adaptive Monte Carlo of pyOMT: when ‖ĝ‖ has not improved
// for `patience` steps the number of sample batches doubles. Its floor is the sampling noise,
// E‖ŵ − w‖² = Σ_i w_i(1 − w_i)/N ≈ (1 − 1/n)/N at convergence for uniform ν: δ needs N ≳ 1/δ² samples
// with pseudo-random points (see ot/samplers/source_samplers.h), which the doubling reaches by itself.
#pragma once
#include <cstdint>
#include <functional>

#include "engine/random/generator.h"
#include "ot/samplers/source_samplers.h"
#include "ot/solvers/semi_discrete_cells.h"

namespace brenier::ot {

// The target measure ν = Σ_i ν_i δ_{y_i}, checked: points [n, d] floating and finite with n >= 1;
// weights [n] finite, > 0, summing to 1 within 1e-6 (an undefined `weights` means uniform 1/n, the
// reference code's ν). Zero-weight targets are refused: their height would diverge to −∞ (drop them).
struct DiscreteTargets {
  Tensor points;   // [n, d] in the caller's dtype, on the CPU or the caller's device
  Tensor weights;  // f64 [n] on the CPU
};
DiscreteTargets check_discrete_targets(const Tensor& points, const Tensor& weights, const char* op);

// Adaptive Monte Carlo (§6.1): each step draws `batches` batches of `batch_size` fresh sources.
struct MonteCarloConfig {
  int64_t batch_size = 1000;   // pyOMT bat_size_n (CelebA demo, §6.1)
  int64_t initial_batches = 20;  // pyOMT's initial MC batches (CelebA demo, §6.1)
  int64_t patience = 30;       // steps without a new best ‖∇E‖ before the batches double (§6.1)
  // Cap on the doubling (ours; pyOMT has none): at most this many batches per step.
  int64_t max_batches = 1024;
};
void check_monte_carlo_config(const MonteCarloConfig& config, const char* op);

// pyOMT's rule: a step whose ‖∇E‖ is not ≤ the best since the last doubling is a bad step; after
// `patience` bad steps in a row the batches double (up to max_batches) and the best is forgotten.
class AdaptiveBatches {
 public:
  explicit AdaptiveBatches(const MonteCarloConfig& config);
  int64_t batches() const { return batches_; }
  // Feeds one step's ‖∇E‖; returns true when this step doubled the batch count.
  bool observe(double grad_norm);
  void set_batches(int64_t batches);  // forgets the stall count and the best, as a doubling does

  // The whole rule's state, so a resumed solve doubles at the same step as an uninterrupted one.
  struct State {
    int64_t batches = 1;
    int64_t bad_steps = 0;  // steps since the best
    double best = 0;        // best ‖∇E‖ since the last doubling (meaningless unless has_best)
    bool has_best = false;
  };
  State state() const { return {batches_, bad_steps_, best_, has_best_}; }
  void set_state(const State& state);  // checks batches in [1, max_batches] and bad_steps >= 0

 private:
  MonteCarloConfig config_;
  int64_t batches_;
  int64_t bad_steps_ = 0;
  double best_ = 0;
  bool has_best_ = false;
};

struct EnergyGradient {
  Tensor gradient;            // ŵ − ν, [n] in the targets' dtype on their device
  Tensor counts;              // i64 [n] on the CPU: sources per cell
  int64_t samples = 0;        // N
  double norm = 0;            // ‖ŵ − ν‖₂ (f64 on the host)
  double max_error_ratio = 0; // max_i |ŵ_i − ν_i| / ν_i (pyOMT's "max absolute error ratio", n·max|g| for 1/n)
  int64_t empty_cells = 0;    // targets no sample reached
  // E(h) = mean_j u_h(x_j) − Σ_i ν_i h_i: the Monte-Carlo energy, a convex function of h whose
  // gradient is `gradient` (for monitoring; it is minimized, but its minimum is unknown).
  double energy = 0;
};

// Draws `batches` × `batch_size` sources with `sampler`/`gen` (each batch checked: [batch_size, d],
// floating, finite; then converted to the targets' dtype and device) and returns ∇E's estimate at
// `heights`. targets [n, d] and heights [n] share dtype and device; `weights` is ν (f64 [n], CPU).
EnergyGradient estimate_energy_gradient(const SourceSampler& sampler, Generator& gen, int64_t batches,
                                        int64_t batch_size, const Tensor& targets, const Tensor& heights,
                                        const Tensor& weights, const CellAssignmentOptions& cells);

// One step of a semi-discrete solver, as reported to progress callbacks.
struct SemiDiscreteStepStats {
  int64_t step = 0;             // steps done, this one included
  double grad_norm = 0;         // ‖ŵ − ν‖₂ at this step's heights (before its update)
  double max_error_ratio = 0;   // see EnergyGradient
  int64_t empty_cells = 0;
  double energy = 0;            // Monte-Carlo E(h) at this step's heights (see EnergyGradient)
  int64_t mc_samples = 0;       // sources drawn this step
  bool batches_doubled = false; // adaptive MC doubled the batches after this step
  bool converged = false;       // grad_norm < tolerance: the heights were left as they are
  double seconds = 0;           // wall time of this step
};

struct SemiDiscreteSolveResult {
  bool converged = false;   // ‖∇E‖ < tolerance before max_iter steps
  int64_t iterations = 0;   // steps run by this solve() call
  double grad_norm = 0;     // at the last step
  int64_t mc_samples = 0;   // per step at the end (after any doubling)
  double seconds = 0;       // wall time of the solve() call
};

// The statistics of a step taken at estimate `g`, numbered `step`, converged when ‖g‖ < tolerance (the
// caller fills batches_doubled and seconds).
SemiDiscreteStepStats step_stats(const EnergyGradient& g, int64_t step, double tolerance);

// The geometric lr decay of the solvers' option lr_final (ours): lr·(lr_final/lr)^((step−1)/(max_iter−1)) for
// the 1-based `step`, lr_final from step max_iter on.
double decayed_lr(double lr, double lr_final, int64_t step, int64_t max_iter);

// Both solvers' loop: `step()` until a step reports converged or `max_iter` steps ran, each step shown to
// `on_step`; fills converged, iterations and grad_norm of `result`.
void run_until_converged(const std::function<SemiDiscreteStepStats()>& step, int64_t max_iter,
                         const std::function<void(const SemiDiscreteStepStats&)>& on_step,
                         SemiDiscreteSolveResult& result);

}  // namespace brenier::ot
