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
// computed without a graph (scores ⟨x_i, y_j⟩ − ψ(x_i) and their argmax over i, formed in cache-sized
// blocks by semi-discrete OT's assign_cells, ot/solvers/semi_discrete_cells.h) and gradients flow through ψ(x_σ(j)) = index_select(ψ(x), σ) only. The objective takes
// ψ's values, so any potential network works with it.
//
// Symmetrized (spec §1.4, as in HOTET / the benchmark notebooks): a second potential ψ̄ minimizes the
// same loss with the roles of x and y swapped, so ∇ψ̄ is the inverse map ν → μ. The solver that trains
// both is ot::W2Solver with W2Method::MMB (ot/solvers/w2_solver.h).
//
// Monitoring: the batch dual value D = L(ψ) gives W2² ≈ mean‖x‖² + mean‖y‖² − 2 D. The batch conjugate
// under-estimates ψ*, so this estimate is biased upwards; it is for watching training, not a metric.
#pragma once
#include <cstdint>

#include "engine/autograd/var.h"

namespace brenier::ot {

// σ(j) = argmax_i ⟨x_i, y_j⟩ − psi_x[i] for every row y_j: i64 [n_y]. x [n_x, D], y [n_y, D] and
// psi_x [n_x] share a floating dtype. Scores are formed at most `chunk_rows` rows of y at a time
// (fewer when that many would not stay in cache); ties go to the lowest i.
Tensor batch_conjugate_argmax(const Tensor& psi_x, const Tensor& x, const Tensor& y, int64_t chunk_rows);

// One direction of the MM-B objective for ψ values psi_x = ψ(x) (a Var carrying ψ's graph).
struct MmbObjective {
  Var loss;                  // L(ψ) above; differentiable through psi_x
  double w2_squared;         // mean‖x‖² + mean‖y‖² − 2 L(ψ) (monitoring estimate of W2²)
};
MmbObjective mmb_objective(const Var& psi_x, const Tensor& x, const Tensor& y,
                           int64_t max_score_elements = int64_t{1} << 22);

}  // namespace brenier::ot
