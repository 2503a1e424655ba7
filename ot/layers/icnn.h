// Input-convex neural network (ICNN) potential ψ: R^D → R, whose gradient ∇ψ is an optimal-transport
// map by Brenier's theorem (Brenier 1991; Amos, Xu & Kolter, "Input Convex Neural Networks", ICML 2017).
// This is the "bench ICNN" of shared/bench/WORKLOADS.md (ref/workloads.py), hidden sizes h_1..h_L:
//
//   z_1     = celu(A_0 x + b_0)
//   z_{k+1} = celu(W_k⁺ z_k + A_k x + b_k),          k = 1..L−1
//   ψ(x)    = w⁺·z_L + a·x + c + (s/2)‖x‖²        (s = 1 in the bench ICNN)
//
// Convexity: celu (α = 1) is convex and non-decreasing; a non-negative combination of convex functions
// composed with a convex non-decreasing function is convex, and affine terms in x are both convex and
// concave. So z_k is convex in x for every k as long as W_k⁺, w⁺ ≥ 0 (the A_k, b_k, a, c are free), and
// the (s/2)‖x‖² term makes ψ s-strongly convex; with s = 1, ∇ψ(x) = x + (network part) ≈ identity at
// small weights.
//
// Layout (the PyTorch nn.Linear convention, also the order a hypernetwork slices its output into):
//   A[k] [h_{k+1}, D], b[k] [h_{k+1}] for k = 0..L−1   (math: A_k, b_k)
//   W[k] [h_{k+2}, h_{k+1}]           for k = 0..L−2   (math: W_{k+1}, feeding z_{k+1} into layer k+2)
//   w [h_L], a [D], c [1]
// The functional form takes the weights as Vars (possibly produced by a hypernetwork, spec §0), and the
// Icnn module owns leaf parameters and calls the same function.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/autograd/var.h"
#include "engine/nn/module.h"
#include "engine/random/generator.h"

namespace brenier::ot {

struct IcnnWeights {
  std::vector<Var> A, b, W;
  Var w, a, c;
};

// Hidden sizes of the bench ICNN for a dimension (WORKLOADS.md): [64, 64, 32] for dim ≤ 8,
// [128, 128, 64] above.
std::vector<int64_t> bench_icnn_hidden(int64_t dim);

// ψ(x): x [n, D] → [n]. Throws naming the weight when a shape or dtype does not fit the layout above.
// Non-negativity of W and w is NOT enforced here (a caller projects or reparametrizes them).
// `quadratic` is the coefficient s of the (s/2)‖x‖² term (1 in the bench ICNN).
Var icnn_potential(const Var& x, const IcnnWeights& weights, double quadratic = 1.0);

// ∇ψ(x) [n, D] by reverse mode (brenier::grad). With create_graph the result stays differentiable
// w.r.t. the weights and x (needed when the map is used inside a training loss); without it, it is
// a constant Var. Requires grad mode on (the forward has to be recorded to be differentiated).
Var icnn_map(const Var& x, const IcnnWeights& weights, bool create_graph, double quadratic = 1.0);

struct IcnnConfig {
  int64_t dim = 2;
  std::vector<int64_t> hidden;  // empty: bench_icnn_hidden(dim)
  double weight_init_std = 0.1; // W, w ~ N(0, std²) then clamped ≥ 0 (see Icnn)
  // s in the (s/2)‖x‖² term: 1 in the bench ICNN (WORKLOADS.md). Note ∇ψ − s·id is then monotone,
  // so a map that contracts some direction more than s (Hessian eigenvalue < s) is out of reach;
  // solvers fitting arbitrary maps use a small s (the W2 benchmark's solvers use 1e-4, spec §2.1).
  double quadratic = 1.0;
};

// The ICNN as an nn::Module. Parameter names: A0..A{L−1}, b0..b{L−1}, W1..W{L−1}, w, a, c.
// Initialization:
//  - A_k, b_k, a, c (affine in x): nn::Linear's default, U(−1/√D, 1/√D) (PyTorch), as the reference
//    implementation's nn.Linear layers (ref/workloads.py);
//  - W_k, w: N(0, 0.1²) then clamped ≥ 0, the W2 benchmark's DenseICNN recipe (weights_init_std = 0.1
//    followed by convexify(); spec §2.1). Half the entries start at 0 and the rest are half-normal
//    (mean ≈ 0.04), so each unit starts as a sparse non-negative mix of the previous layer.
class Icnn : public nn::Module {
 public:
  Icnn(const IcnnConfig& config, Generator& gen, DType dtype = DType::F32);

  Var forward(const Var& x) const { return icnn_potential(x, weights_, quadratic_); }
  Var operator()(const Var& x) const { return forward(x); }
  Var map(const Var& x, bool create_graph = false) const { return icnn_map(x, weights_, create_graph, quadratic_); }

  // Clamps W and w to ≥ 0 in place: the projection after each optimizer step (projected gradient).
  void convexify();
  // The weights that must stay ≥ 0, for Optimizer::add_projection.
  std::vector<Var> convex_weights() const;

  const IcnnWeights& weights() const { return weights_; }
  int64_t dim() const { return dim_; }
  const std::vector<int64_t>& hidden() const { return hidden_; }
  double quadratic() const { return quadratic_; }

 private:
  int64_t dim_;
  std::vector<int64_t> hidden_;
  double quadratic_;
  IcnnWeights weights_;
};

}  // namespace brenier::ot
