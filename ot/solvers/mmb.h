// MM-B: minibatch "max-min, batch conjugate" neural OT solver (Mallasto et al., "(q,p)-Wasserstein
// GANs", 2019; Korotin et al., W2 benchmark, NeurIPS 2021, method "MM-B"; spec/algorithms.md §1.4).
//
// Quadratic-cost OT in its semi-dual form: ½W2²(μ, ν) = ½E‖x‖² + ½E‖y‖² − min_ψ convex [Eμ ψ + Eν ψ*],
// and the optimal ψ's gradient ∇ψ pushes μ to ν (Brenier 1991). MM-B replaces the conjugate
// ψ*(y) = sup_x ⟨x, y⟩ − ψ(x) by its maximum over the source minibatch:
//
//   L(ψ) = mean_i ψ(x_i) + mean_j max_i (⟨x_i, y_j⟩ − ψ(x_i))
//        = mean_i ψ(x_i) + mean_j (⟨x_σ(j), y_j⟩ − ψ(x_σ(j))),    σ(j) = argmax_i ⟨x_i, y_j⟩ − ψ(x_i).
//
// By Danskin's theorem the parameter gradient of the max is that of the maximizing term, so σ is
// computed without a graph (a matmul X Yᵀ, minus ψ(x), argmax over i; in row chunks when the score
// matrix is big) and gradients flow through ψ(x_σ(j)) = index_select(ψ(x), σ) only. ψ is the bench
// ICNN (ot/layers/icnn.h) with a small quadratic term (MmbConfig::strong_convexity), kept convex by
// clamping W, w ≥ 0 after each Adam step (projected gradient).
//
// Symmetrized (spec §1.4, as in HOTET / the benchmark notebooks): a second ICNN ψ̄ minimizes the same
// loss with the roles of x and y swapped, so ∇ψ̄ is the inverse map ν → μ; the step minimizes
// (L_XY(ψ) + L_YX(ψ̄)) / 2 with one Adam over both networks (they share no parameters).
//
// Monitoring: the batch dual value D = L(ψ) gives W2² ≈ mean‖x‖² + mean‖y‖² − 2 D. The batch conjugate
// under-estimates ψ*, so this estimate is biased upwards; it is for watching training, not a metric.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/autograd/var.h"
#include "engine/optim/adam.h"
#include "engine/random/generator.h"
#include "ot/layers/icnn.h"

namespace brenier::ot {

// σ(j) = argmax_i ⟨x_i, y_j⟩ − psi_x[i] for every row y_j: i64 [n_y]. x [n_x, D], y [n_y, D] and
// psi_x [n_x] share a floating dtype. Scores are formed `chunk_rows` rows of y at a time.
Tensor batch_conjugate_argmax(const Tensor& psi_x, const Tensor& x, const Tensor& y, int64_t chunk_rows);

// One direction of the MM-B objective for ψ values psi_x = ψ(x) (a Var carrying ψ's graph).
struct MmbObjective {
  Var loss;                  // L(ψ) above; differentiable through psi_x
  double w2_squared;         // mean‖x‖² + mean‖y‖² − 2 L(ψ) (monitoring estimate of W2²)
};
MmbObjective mmb_objective(const Var& psi_x, const Tensor& x, const Tensor& y,
                           int64_t max_score_elements = int64_t{1} << 22);

struct MmbConfig {
  int64_t dim = 2;
  std::vector<int64_t> hidden;   // empty: bench ICNN sizes for dim (WORKLOADS.md)
  double lr = 1e-3;              // Adam, default betas: spec §1.4 (HOTET / W2 benchmark MM-B)
  // Anneal lr along a half cosine to 0 over `iters` steps (optim::WarmupCosine, no warm-up). Off in
  // the references (constant lr); on, the last iterates average out Adam's step noise.
  bool cosine_decay = false;
  int64_t batch = 1024;          // spec §1.6 (w2b_HOTET.yaml) and WORKLOADS.md P1
  int64_t iters = 5000;          // spec §1.6: 5001 iterations for a W2B single map
  uint64_t seed = 0;             // initializes both ICNNs
  DType dtype = DType::F32;      // f32 everywhere fast (ARCHITECTURE.md §4)
  // s of the ICNNs' (s/2)‖x‖² term: 1e-4, the W2 benchmark's solver DenseICNN (spec §2.1). The bench
  // ICNN's s = 1 makes ∇ψ − id monotone, so no map contracting any direction (a Bures map whose
  // matrix has an eigenvalue < 1) can be fitted: measured, it stalls at L2-UVP ≈ 3% in 2-D even when
  // ∇ψ is regressed on the true map, against ≈ 0.01% with s = 0.
  double strong_convexity = 1e-4;
  double max_grad_norm = 0.0;    // > 0: clip the joint gradient norm (off in the references)
  int64_t max_score_elements = int64_t{1} << 22;  // score-matrix chunk: 4M entries (16 MB in f32)
};

struct StepStats {
  int64_t step = 0;           // steps done, this one included
  double loss = 0;            // (L_XY(ψ) + L_YX(ψ̄)) / 2
  double loss_forward = 0;    // L_XY(ψ)
  double loss_inverse = 0;    // L_YX(ψ̄)
  double w2_estimate = 0;     // mean of both directions' W2² estimates
  double grad_norm = 0;       // joint gradient norm before clipping
};

class MmbSolver {
 public:
  using Sampler = std::function<Tensor(int64_t n)>;  // n fresh points [n, D]

  explicit MmbSolver(MmbConfig config);

  // One Adam step on a source batch x and a target batch y ([n, D] each, any float dtype; converted
  // to config.dtype). A NaN/Inf loss or gradient throws brenier::Error naming the step, before any
  // parameter changes, so the networks stay as after the last good step.
  StepStats step(const Tensor& x, const Tensor& y);
  // config.iters steps on fresh batches of config.batch points; `on_step` sees every step's stats.
  void train(const Sampler& source, const Sampler& target,
             const std::function<void(const StepStats&)>& on_step = {});

  // ∇ψ(x) (forward map μ → ν) and ∇ψ̄(y) (inverse map ν → μ), [n, D] in config.dtype, computed
  // `chunk_rows` rows at a time so no graph outlives one chunk.
  Tensor transport(const Tensor& x, int64_t chunk_rows = 4096) const;
  Tensor inverse_transport(const Tensor& y, int64_t chunk_rows = 4096) const;

  // Checkpoint (safetensors layout, atomic): both networks, Adam's state and the step count.
  // load() requires a checkpoint of an MM-B solver with the same dim and hidden sizes.
  void save(const std::string& path) const;
  void load(const std::string& path);

  const MmbConfig& config() const { return config_; }
  int64_t steps_done() const { return steps_; }
  Icnn& potential() { return *psi_; }
  Icnn& inverse_potential() { return *psi_bar_; }
  const Icnn& potential() const { return *psi_; }
  const Icnn& inverse_potential() const { return *psi_bar_; }

 private:
  Tensor map_in_chunks(const Icnn& net, const Tensor& points, int64_t chunk_rows, const char* op) const;
  Tensor as_batch(const Tensor& t, const char* op, const char* arg) const;

  MmbConfig config_;
  std::unique_ptr<Icnn> psi_, psi_bar_;
  std::unique_ptr<optim::Adam> adam_;
  int64_t steps_ = 0;
};

}  // namespace brenier::ot
