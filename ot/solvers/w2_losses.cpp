// The W2 benchmark's minimax losses on DenseICNN potentials (see w2_losses.h).
#include "ot/solvers/w2_losses.h"

#include <cmath>

#include "engine/ops/ops.h"

namespace brenier::ot {
namespace {

void check_batch(const Tensor& t, const DenseIcnnPotential& psi, const char* op, const char* arg) {
  check_defined(t, op, arg);
  const Var& a0 = psi.weights.quadratic.empty() ? Var() : psi.weights.quadratic[0];
  BRENIER_CHECK(a0.defined(), "{}: the potential has no weights (quadratic[0] is missing)", op);
  BRENIER_CHECK(t.dim() == 2 && t.size(0) >= 1 && t.size(1) == a0.size(0) && t.dtype() == a0.dtype(),
                "{}: argument '{}' must be a {} [n, {}] batch with n >= 1 (the potential's dtype and dim), got {}",
                op, arg, dtype_name(a0.dtype()), a0.size(0), t.str());
}

// mean_i ‖rows_i‖² of a constant batch.
double mean_squared_norm(const Var& rows) { return mean(sum(square(rows), {1})).item(); }

Var freeze(const Var& v) { return v.defined() ? Var(v.data()) : Var(); }

}  // namespace

DenseIcnnPotential trainable_potential(const DenseIcnn& net) {
  return {net.weights(), net.config().strong_convexity};
}

DenseIcnnPotential frozen_potential(const DenseIcnn& net) {
  const DenseIcnnWeights& w = net.weights();
  DenseIcnnPotential out;
  out.strong_convexity = net.config().strong_convexity;
  for (const Var& v : w.quadratic) out.weights.quadratic.push_back(freeze(v));
  for (const Var& v : w.linear) out.weights.linear.push_back(freeze(v));
  for (const Var& v : w.bias) out.weights.bias.push_back(freeze(v));
  for (const Var& v : w.convex) out.weights.convex.push_back(freeze(v));
  out.weights.final_layer = freeze(w.final_layer);
  return out;
}

PotentialLoss mm_potential_loss(const DenseIcnnPotential& psi, const Tensor& x, const Tensor& y, const Tensor& y_inv) {
  const char* op = "mm_potential_loss";
  check_batch(x, psi, op, "x");
  check_batch(y, psi, op, "y");
  check_batch(y_inv, psi, op, "y_inv");
  BRENIER_CHECK(y_inv.shape() == y.shape(), "{}: argument 'y_inv' must be shaped like 'y' {}, got {}", op,
                shape_str(y.shape()), y_inv.str());
  Var loss = mean(psi(Var(x))) - mean(psi(Var(y_inv)));
  double value = loss.item(), inner = 0, sq_x = 0, sq_y = 0;
  {
    NoGradGuard no_grad;
    Var yv(y);
    inner = mean(sum(Var(y_inv) * yv, {1})).item();
    sq_x = mean_squared_norm(Var(x));
    sq_y = mean_squared_norm(yv);
  }
  return {loss, sq_x + sq_y - 2.0 * (value + inner), sq_x + sq_y};
}

Var mm_conjugate_loss(const DenseIcnnPotential& psi, const DenseIcnnPotential& psi_bar, const Tensor& y) {
  const char* op = "mm_conjugate_loss";
  check_batch(y, psi_bar, op, "y");
  Var yv(y);
  Var y_inv = psi_bar.map(yv, /*create_graph=*/true);  // ∇ψ̄(y), differentiable w.r.t. ψ̄'s weights
  return mean(psi(y_inv) - sum(y_inv * yv, {1}));
}

W2gnLoss w2gn_loss(const DenseIcnnPotential& psi, const DenseIcnnPotential& psi_bar, const Tensor& x, const Tensor& y,
                   double cycle_weight) {
  const char* op = "w2gn_loss";
  check_batch(x, psi, op, "x");
  check_batch(y, psi, op, "y");
  BRENIER_CHECK(cycle_weight >= 0 && std::isfinite(cycle_weight),
                "{}: argument 'cycle_weight' must be finite and >= 0, got {}", op, cycle_weight);
  Var xv(x), yv(y);
  // ψ(x) once, both as a loss term and as the function whose input gradient is ∇ψ(x).
  Var x_leaf(x, /*requires_grad=*/true);
  Var psi_x = psi(x_leaf);
  autograd::GradOptions keep;
  keep.create_graph = true;
  Var x_push = grad({sum(psi_x)}, {x_leaf}, {}, keep)[0];  // ∇ψ(x)
  // ∇ψ̄(y) once: detached in the potential term (notebook: D_conj.push(Y).detach()), with its graph
  // in the cycle term.
  Var y_inv = psi_bar.map(yv, /*create_graph=*/true);
  Var y_inv_fixed = y_inv.detach();
  Var potential = mean(psi_x) - mean(psi(y_inv_fixed));
  Var cycle = mean(square(psi.map(y_inv, true) - yv)) + mean(square(psi_bar.map(x_push, true) - xv));

  W2gnLoss out;
  out.loss = potential + cycle * cycle_weight;
  out.potential_loss = potential.item();
  out.cycle = cycle.item();
  {
    NoGradGuard no_grad;
    const double inner = mean(sum(y_inv_fixed * yv, {1})).item();
    out.second_moments = mean_squared_norm(xv) + mean_squared_norm(yv);
    out.w2_squared = out.second_moments - 2.0 * (out.potential_loss + inner);
  }
  return out;
}

}  // namespace brenier::ot
