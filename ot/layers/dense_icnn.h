// DenseICNN: the input-convex potential of the continuous Wasserstein-2 benchmark (Korotin et al.,
// "Do Neural Optimal Transport Solvers Work?", NeurIPS 2021; spec/algorithms.md §2.1), used both by
// the benchmark's ground-truth potentials (ot/benchmarks/w2bench.h) and by the solvers it scores.
// Unlike the bench ICNN (icnn.h), every layer sees x through a "convex quadratic" term, so the
// network is quadratic near the origin. Hidden sizes h_0..h_{L−1}, rank r:
//
//   q_l(x)  = Σ_r (xᵀ A_l[:, r, :])² + W_l x + b_l             (h_l; square taken element-wise)
//   z_0     = q_0(x)                                             (no activation on the first layer)
//   z_l     = celu(C_{l−1} z_{l−1} + q_l(x)),  l = 1..L−1
//   ψ(x)    = final · z_{L−1} + (s/2)‖x‖²
//
// Convexity: each q_l is a sum of squares of linear forms plus an affine term, hence convex; celu is
// convex and non-decreasing, so with C_l ≥ 0 and final ≥ 0 every z_l and ψ is convex, and the
// (s/2)‖x‖² term makes ψ s-strongly convex (∇ψ invertible). Nothing forces C, final ≥ 0 during
// training: convexify() is the projection applied after each optimizer step.
//
// Layout: exactly the upstream PyTorch checkpoint's tensors, so load_state_dict reads the shipped
// weights (shared/data/w2bench) unchanged:
//   quadratic_layers.{l}.quadratic_decomposed  A_l   [D, rank, h_l]
//   quadratic_layers.{l}.weight                W_l   [h_l, D]
//   quadratic_layers.{l}.bias                  b_l   [h_l]
//   convex_layers.{k}.weight                   C_k   [h_{k+1}, h_k]
//   final_layer.weight                         final [1, h_{L−1}]
// The functional form takes the weights as Vars (a hypernetwork may produce them, spec §0); the
// DenseIcnn module owns leaf parameters and calls the same function.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/autograd/var.h"
#include "engine/nn/module.h"
#include "engine/random/generator.h"

namespace brenier::ot {

// Hidden sizes of the W2 benchmark's DenseICNN for a dimension: [max(2D,64), max(2D,64), max(D,32)].
std::vector<int64_t> w2bench_hidden(int64_t dim);

struct DenseIcnnWeights {
  std::vector<Var> quadratic;  // quadratic_layers.{l}.quadratic_decomposed  [D, rank, h_l]
  std::vector<Var> linear;     // quadratic_layers.{l}.weight                [h_l, D]
  std::vector<Var> bias;       // quadratic_layers.{l}.bias                  [h_l]
  std::vector<Var> convex;     // convex_layers.{k}.weight                   [h_{k+1}, h_k]
  Var final_layer;             // final_layer.weight                         [1, h_L]

  // Every tensor above, in field order (for penalties and bounds over all the weights).
  std::vector<Var> all() const {
    std::vector<Var> out = quadratic;
    out.insert(out.end(), linear.begin(), linear.end());
    out.insert(out.end(), bias.begin(), bias.end());
    out.insert(out.end(), convex.begin(), convex.end());
    out.push_back(final_layer);
    return out;
  }
};

struct DenseIcnnConfig {
  int64_t dim = 2;
  std::vector<int64_t> hidden;     // empty: w2bench_hidden(dim)
  int64_t rank = 1;
  double strong_convexity = 1e-4;  // solvers' value (spec §2.1); the benchmark's potentials use 1e-2
  double init_std = 0.1;           // every parameter ~ N(0, init_std²) (spec §2.1)
};

// ψ(x): x [n, D] → [n]. Throws naming the weight when a shape or dtype does not fit the layout
// above. Non-negativity of C and final is NOT enforced here (convexify() or a hypernetwork's
// output activation does that).
Var dense_icnn_potential(const Var& x, const DenseIcnnWeights& w, double strong_convexity);

// ∇ψ(x) [n, D] by reverse mode. With create_graph the result stays differentiable w.r.t. the
// weights and x (a map inside a training loss); without it, it is a constant Var. Requires grad
// mode on (the forward has to be recorded to be differentiated).
Var dense_icnn_map(const Var& x, const DenseIcnnWeights& w, double strong_convexity, bool create_graph);

// The DenseICNN as an nn::Module; named_parameters() gives exactly the checkpoint names above.
// Initialization is upstream's: every parameter ~ N(0, init_std²), C and final included (they are
// NOT clamped here: upstream clamps them only at the first convexify(), after the first step).
class DenseIcnn : public nn::Module {
 public:
  DenseIcnn(const DenseIcnnConfig& config, Generator& gen, DType dtype = DType::F32);

  Var forward(const Var& x) const { return dense_icnn_potential(x, weights_, config_.strong_convexity); }
  Var operator()(const Var& x) const { return forward(x); }
  Var map(const Var& x, bool create_graph = false) const {
    return dense_icnn_map(x, weights_, config_.strong_convexity, create_graph);
  }

  // Clamps the convex layers and the final layer to ≥ 0 in place (projected gradient, spec §2.1).
  void convexify();
  // The weights that must stay ≥ 0, for Optimizer::add_projection.
  std::vector<Var> convex_weights() const;

  const DenseIcnnWeights& weights() const { return weights_; }
  // config().hidden is filled in (never empty).
  const DenseIcnnConfig& config() const { return config_; }

 private:
  DenseIcnnConfig config_;
  DenseIcnnWeights weights_;
};

}  // namespace brenier::ot
