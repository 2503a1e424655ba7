// HeightNetworkSolver: OT-Net's reusable semi-discrete solver (Li et al., Algorithm 1; spec/algorithms.md
// §6.3). The heights are a network's outputs, h_i = H_Φ(y_i) (ot/solvers/height_network.h), so a target
// never seen in training gets its height by a forward pass and the map extends to it:
//   u(x) = max_{i ≤ n+m} ⟨x, y_i⟩ + H_Φ(y_i),   T(x) = y_{argmax}.
//
// Training (Algorithm 1, "use Adam to optimize H_Φ"): each step draws fresh sources, computes
// h = H_Φ(Y_train), the Monte-Carlo ĝ = ŵ(h) − ν (semi_discrete_energy.h), stops when ‖ĝ‖₂ < δ, and
// otherwise back-propagates ĝ through h: the surrogate loss ⟨stopgrad(ĝ), H_Φ(Y)⟩, whose Φ-gradient
// Σ_i ĝ_i ∂h_i/∂Φ is the chain rule of E(h(Φ)). It is the same gradient as that of the Monte-Carlo
// energy mean_j max_i(⟨x_j, y_i⟩ + h_i) − Σ_i ν_i h_i, whose h-gradient is exactly ŵ − ν (Danskin);
// only the vector ĝ is needed, so it is passed as h.backward's output gradient (WORKLOADS.md P4:
// `h.backward(w − ν)`). Σĝ = 0, so the constant part of h (the output bias) gets no gradient: E does not
// depend on it, and no h −= mean(h) is needed.
//
// Decisions (the paper releases no code):
// * Adam is the standard one (PyTorch's, with bias correction; the paper cites Kingma & Ba); the
//   bias-free Adam of §6.1 is pyOMT's hand-written update of free heights.
// * "Mini-batch 512" (§6.3, Appendix A). Algorithm 1 needs every training height at every step (the argmax
//   runs over all cells), so a mini-batch cannot subsample ∇E; we read it as the batch in which H_Φ sees
//   the targets. target_batch = 0 (default) feeds all training targets as one batch (Algorithm 1 line 5
//   as written; WORKLOADS.md P4): BatchNorm normalizes with the statistics of the whole target set and the
//   gradient flows through them. target_batch = B > 0 bounds memory for large n: BN's statistics are those
//   of the whole set (a no-graph pass, HeightNetwork::freeze_statistics), the heights come from eval-mode
//   forwards (equal to the full-batch ones), and each batch of B is re-run with a graph to back-propagate
//   its slice of ĝ, with the statistics as constants (their gradient is dropped); one Adam step per ∇E.
//   Per-mini-batch statistics (PyTorch's train mode on random batches) make every height depend on its
//   batch-mates: in our 24-target test with random batches of 10 the solve stalled at ‖∇E‖ ≈ 0.1
//   (δ = 6e-3), so we do not use them.
// * The Monte Carlo is pyOMT's adaptive one (§6.1; the paper gives a fixed N): defaults 20 × 1000 = 20,000
//   sources per step, P4's N.
// * H_Φ's input (ours): by default multi-scale Fourier features of y (height_network_features.h), whose
//   frequencies come from the training targets and the seed; fourier_features = 0 gives Table A3's raw y.
// * After training, BatchNorm's running statistics are replaced by the exact statistics of the training
//   targets (HeightNetwork::freeze_statistics) and the network is put in eval mode; solve() does it and
//   then measures ‖∇E‖ once more with the eval-mode heights that the map uses (eval_grad_norm).
// * Steps after a warm start (ours; docs/otnet.md "color"): `update = output_layer` moves only the output layer,
//   by a gradient step on the heights mapped through the features' Gram matrix (see HeightNetworkUpdate).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/optim/adam.h"
#include "engine/random/generator.h"
#include "ot/solvers/height_network.h"
#include "ot/solvers/height_network_features.h"
#include "ot/solvers/semi_discrete_energy.h"

namespace brenier::ot {

// What a training step changes (ours; Algorithm 1 trains all of Φ by Adam).
enum class HeightNetworkUpdate {
  // Adam on every parameter of H_Φ: Algorithm 1 as the paper gives it (the default).
  all_parameters,
  // The output layer only, for steps after fit_heights (a warm start). With the hidden layers fixed (BN
  // statistics of the training targets, eval mode), h = F w + b is linear in the output layer (F [n, W] the last
  // hidden layer's features), so E is convex in (w, b). The step is the heights' gradient step Δh = −lr·ĝ
  // mapped to the weights by the same ridge least squares as fit_heights: Δw = (F_cᵀF_c + λI)⁻¹F_cᵀΔh, the
  // natural gradient in the features' metric (F_c: centred F; λ relative 1e-12). Why not Adam on Φ: from a
  // fitted output layer its steps of ≈ lr on *every* weight (Adam's size is independent of the gradient's)
  // add up coherently over the 512 features and, through BatchNorm, over the hidden layers, and move h far
  // more than the balance tolerates (color: ‖ŵ − ν‖ 0.022 → 0.20 in one step at lr 1e-6 on all of Φ, → 0.049 in
  // 100 steps at lr 1e-6 on the output layer alone); a gradient step on h has the size of ĝ and shrinks with it.
  // `lr` is then that step size on the heights (color: 3e-3), and lr_final decays it. The hidden layers, their
  // statistics and Adam's state stay as they are; frozen() stays true after such a step.
  output_layer,
};

struct HeightNetworkSolverConfig {
  std::vector<int64_t> hidden = {512, 512, 512};  // H_Φ widths (Table A3)
  bool batch_norm = true;                          // BN after each hidden Linear (Table A3)
  // H_Φ's input (ours, a deviation from Table A3; height_network_features.h, docs/otnet.md): m > 0 reads
  // [y, sin(yB), cos(yB)] with m multi-scale frequencies B drawn from the training targets' scales when
  // they have scales finer than a quarter of their spread (clusters), else y; 0 always reads y as Table A3.
  // With y alone H_Φ stalls at ‖∇E‖ ≈ 0.14 (ring) / 0.05 (grid) on the 2-D toys.
  int64_t fourier_features = 128;
  // Output layer initialized to 0, so training starts from h = 0 as Algorithm 1 (line 1) and AE-OT do.
  // A random output layer starts from random heights whose pattern between training targets the
  // training never removes: held-out predictions were 2-3x worse with it in our 2-D test (ours).
  bool zero_init_output = true;
  // Adam lr: 0.005 for CIFAR-10 and CelebA, 0.004 for Fashion-MNIST, 0.05 for color transfer (§6.3).
  double lr = 5e-3;
  // Ours (the paper keeps lr constant): > 0 decays Adam's lr geometrically from `lr` at the first step to
  // `lr_final` at step max_iter (step k, 1-based: lr·(lr_final/lr)^((k−1)/(max_iter−1)); later steps keep
  // lr_final). With a constant lr Adam's updates keep a size ≈ lr whatever ĝ, so the heights oscillate at
  // that scale around the optimum; the decay lets them settle (docs/otnet.md "color"). 0: constant lr.
  double lr_final = 0;
  // What a step changes: all of Φ by Adam (Algorithm 1) or, after a warm start, the output layer (see above).
  HeightNetworkUpdate update = HeightNetworkUpdate::all_parameters;
  // δ: stop when ‖∇E‖₂ < δ. The paper gives no value; pyOMT's 2e-3 (§6.1).
  double tolerance = 2e-3;
  int64_t max_iter = 20000;                        // pyOMT's (§6.1); the paper gives none
  int64_t target_batch = 0;                        // 0 = all training targets in one batch; see above (paper: 512)
  MonteCarloConfig monte_carlo;                    // 20 × 1000 sources per step to start (§6.1, P4's N = 20,000)
  CellAssignmentOptions cells;                     // block budget of the assignment
  uint64_t seed = 0;                               // H_Φ's initial weights and the sources
  DType dtype = DType::F32;
  Device device = Device::cpu();
};

struct HeightNetworkSolveResult : SemiDiscreteSolveResult {
  // ‖∇E‖₂ with the eval-mode heights after freeze_statistics() (the heights the map uses), measured on
  // fresh sources with the final Monte-Carlo size.
  double eval_grad_norm = 0;
};

class OutputLayerModel;  // height_network_solver.cpp: h = F w + b at fixed features, by least squares

class HeightNetworkSolver {
 public:
  // train_targets [n, d] (n >= 2; converted to config.dtype on config.device); target_weights ν (> 0,
  // Σ = 1) or undefined for uniform 1/n.
  explicit HeightNetworkSolver(const Tensor& train_targets, const Tensor& target_weights = {},
                               HeightNetworkSolverConfig config = {});

  // One Monte-Carlo gradient and (unless ‖ĝ‖ < tolerance) one update of H_Φ: an Adam step on Φ, leaving
  // frozen() false (full batch: H_Φ in training mode; mini-batches: statistics of the weights before the
  // update), or with update = output_layer a step on the output layer (see HeightNetworkUpdate), frozen() true.
  SemiDiscreteStepStats step(const SourceSampler& source);
  // Warm start (ours; Algorithm 1 starts from h = 0): makes H_Φ(y_i) = h⁰_i at the training targets, up to a
  // constant, by solving for the output layer alone: with the hidden layers as they are (BN statistics of the
  // training targets), the heights are linear in the output layer, so the least-squares fit is closed-form
  // (minimum-norm; exact when the last hidden width is ≥ n − 1, as Table A3's 512 for n ≤ 513, and the targets
  // are distinct: equal targets have equal features, hence equal heights). Use it
  // with a quick free-height solve's heights: OT-Net's steps then start where that solve stopped. Returns
  // the RMS error of the fit in config.dtype. Leaves frozen() false and Adam's state as it was. Least squares:
  // the minimum-norm solution with a relative ridge 1e-12, in the smaller of its two forms (n × n or W × W).
  double fit_heights(const Tensor& heights);
  // Steps until ‖ĝ‖ < tolerance or steps_done() reaches max_iter (a solver loaded from a checkpoint takes only
  // the steps left), then freeze_statistics() and one more gradient estimate for eval_grad_norm. `on_step` sees
  // every training step; result.iterations counts the steps of this call.
  HeightNetworkSolveResult solve(const SourceSampler& source,
                                 const std::function<void(const SemiDiscreteStepStats&)>& on_step = {});

  // BN statistics := those of the training targets; eval mode. Needed before predict_heights/transport.
  void freeze_statistics();
  bool frozen() const { return frozen_; }

  // H_Φ(y) for any targets y [m, d] (eval mode; rows are independent, computed in chunks): [m].
  // Throws unless frozen() (call solve() or freeze_statistics() first).
  Tensor predict_heights(const Tensor& targets) const;
  // Cells of x [N, d] among `targets` [m, d] (training and/or new ones) with predicted heights.
  CellAssignment assign(const Tensor& x, const Tensor& targets, const CellAssignmentOptions& options) const;
  // T(x) = y_{argmax} over `targets` with predicted heights: [N, d].
  Tensor transport(const Tensor& x, const Tensor& targets) const;

  // Checkpoint (safetensors, atomic): H_Φ (with its BN statistics), Adam, the step count, the adaptive Monte
  // Carlo's state, the generator's position (semi_discrete_progress.h) and the frozen flag, plus the caller's
  // `metadata` (keys other than the solver's "kind", "dim", "hidden", "batch_norm", "fourier_features").
  // load() needs the same d and widths; a resumed solve() continues exactly where the saved one stopped. It
  // returns the file's metadata (the solver's and the caller's).
  void save(const std::string& path, const std::map<std::string, std::string>& metadata = {}) const;
  std::map<std::string, std::string> load(const std::string& path);

  HeightNetwork& network() { return *network_; }
  const HeightNetwork& network() const { return *network_; }
  const Tensor& train_targets() const { return targets_; }  // config dtype and device
  const Tensor& target_weights() const { return weights_; }  // ν, f64 [n] on the CPU
  const HeightNetworkSolverConfig& config() const { return config_; }
  int64_t steps_done() const { return steps_; }
  int64_t mc_batches() const { return adaptive_.batches(); }
  Generator& generator() { return gen_; }

 private:
  std::vector<Tensor> batch_indices() const;  // consecutive target mini-batches; empty for one batch
  SemiDiscreteStepStats output_layer_step(const SourceSampler& source);  // update = output_layer
  // The least-squares model of the output layer at the current hidden features (built on first use; freezes
  // the BN statistics); reset whenever the hidden layers may change.
  const OutputLayerModel& output_layer_model();
  Tensor predict_in_chunks(const Tensor& targets, int64_t chunk_rows) const;  // eval-mode forward, no graph

  HeightNetworkSolverConfig config_;
  Tensor targets_, weights_;
  Generator init_gen_;  // H_Φ's initial weights only
  std::unique_ptr<HeightNetwork> network_;
  std::unique_ptr<optim::Adam> adam_;
  std::shared_ptr<const OutputLayerModel> output_model_;
  AdaptiveBatches adaptive_;
  Generator gen_;
  int64_t steps_ = 0;
  bool frozen_ = false;
};

}  // namespace brenier::ot
