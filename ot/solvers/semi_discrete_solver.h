// FreeHeightSolver: AE-OT's semi-discrete OT solver (An et al., ICLR 2020; the authors' pyOMT code),
// spec/algorithms.md §6.1. The heights h ∈ R^n are free parameters:
//
//   repeat: draw fresh sources x ~ μ;  ĝ = ŵ(h) − ν  (Monte-Carlo cell masses, semi_discrete_energy.h);
//           stop when ‖ĝ‖₂ < δ;  otherwise Adam WITHOUT bias correction
//             m = .9m + .1ĝ,  v = .999v + .001ĝ²,  h −= lr·m/(√v + 1e-8),  h −= mean(h)
//           and double the sample batches when ‖ĝ‖ has not improved for `patience` steps.
//
// The map is T(x) = y_{argmax_i ⟨x, y_i⟩ + h_i} (transport()). Sources come from a SourceSampler fed by
// the solver's own seeded Generator: pyOMT uses Sobol points, brenier pseudo-random ones (see
// ot/samplers/source_samplers.h for what that costs and how the adaptive Monte Carlo makes up for it).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "engine/optim/adam.h"
#include "engine/random/generator.h"
#include "ot/solvers/semi_discrete_energy.h"

namespace brenier::ot {

struct FreeHeightSolverConfig {
  // Adam step size. pyOMT's CelebA-latent setting (d = 100, §6.1); its 2-D toys use 1e-4 (25 Gaussians)
  // and 2e-5 (8 Gaussians) with 20,000 steps. Adam's steps are ≈ lr per coordinate whatever the
  // gradient's scale, so lr sets the height resolution reachable: pick it against the heights' spread.
  double lr = 5e-2;
  // Ours (pyOMT keeps lr constant): > 0 decays lr geometrically from `lr` at the first step to `lr_final` at
  // step max_iter (as HeightNetworkSolverConfig::lr_final): the heights then settle instead of oscillating
  // at the scale of lr. 0: constant lr.
  double lr_final = 0;
  double tolerance = 2e-3;    // δ: stop when ‖∇E‖₂ < δ (pyOMT, §6.1)
  int64_t max_iter = 20000;   // pyOMT demos (§6.1)
  MonteCarloConfig monte_carlo;
  CellAssignmentOptions cells;  // block budget of the assignment (top_k / counts are set per use)
  uint64_t seed = 0;            // the sources' Generator
  DType dtype = DType::F32;     // heights, targets and sources (pyOMT: f32 on the GPU)
  Device device = Device::cpu();
};

class FreeHeightSolver {
 public:
  // targets [n, d] (any floating dtype, converted to config.dtype and moved to config.device);
  // target_weights [n] = ν (> 0, Σ = 1) or undefined for uniform 1/n. Heights start at 0 (§6.3 Alg. 1).
  explicit FreeHeightSolver(const Tensor& targets, const Tensor& target_weights = {},
                            FreeHeightSolverConfig config = {});

  // One Monte-Carlo gradient and (unless ‖ĝ‖ < tolerance) one Adam update.
  SemiDiscreteStepStats step(const SourceSampler& source);
  // Steps until ‖ĝ‖ < tolerance or steps_done() reaches max_iter (a solver loaded from a checkpoint takes only
  // the steps left); `on_step` sees every step. result.iterations counts the steps of this call.
  SemiDiscreteSolveResult solve(const SourceSampler& source,
                                const std::function<void(const SemiDiscreteStepStats&)>& on_step = {});

  // h [n] (config dtype and device; Σ h = 0 after every update).
  const Tensor& heights() const { return heights_.data(); }
  // Replaces h (e.g. to warm-start); must be finite [n]. Adam's moments are kept.
  void set_heights(const Tensor& heights);

  // Checkpoint (safetensors, atomic): h, Adam's moments, the step count, the adaptive Monte Carlo's state and
  // the generator's position (semi_discrete_progress.h), plus the caller's `metadata` (keys other than the
  // solver's "kind", "targets", "dim"). load() needs the same n and d; a resumed solve() continues exactly
  // where the saved one stopped. load() returns the file's metadata (the solver's and the caller's).
  void save(const std::string& path, const std::map<std::string, std::string>& metadata = {}) const;
  std::map<std::string, std::string> load(const std::string& path);

  // Cells of x [m, d] under the current heights (top_k, budget from `options`).
  CellAssignment assign(const Tensor& x, const CellAssignmentOptions& options) const;
  // T(x) = y_{argmax}: [m, d] in config.dtype.
  Tensor transport(const Tensor& x) const;

  const Tensor& targets() const { return targets_; }        // [n, d], config dtype and device
  const Tensor& target_weights() const { return weights_; }  // ν, f64 [n] on the CPU
  const FreeHeightSolverConfig& config() const { return config_; }
  int64_t steps_done() const { return steps_; }
  int64_t mc_batches() const { return adaptive_.batches(); }
  Generator& generator() { return gen_; }

 private:
  FreeHeightSolverConfig config_;
  Tensor targets_, weights_;
  Var heights_;
  std::unique_ptr<optim::Adam> adam_;
  AdaptiveBatches adaptive_;
  Generator gen_;
  int64_t steps_ = 0;
};

// Moves x [m, d] to (dtype, device) after checking it against `dim` (shared by the solvers' transport()).
Tensor prepare_query_points(const Tensor& x, int64_t dim, DType dtype, Device device, const char* op);

}  // namespace brenier::ot
