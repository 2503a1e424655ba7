// HOTET's potential and its hypernetwork (spec/algorithms.md §1.1–1.2; paper 001 §III, App. A).
//
// The potential ("MainDenseICNN", §1.1) is the W2 benchmark's DenseICNN (dense_icnn.h, same weight
// layout and order) plus a residual ½‖x‖²:
//
//   ψ(x) = w_out · z_L(x) + (s/2)‖x‖² + ½‖x‖²,   z as in dense_icnn.h (quadratic layers A_k, W_k, b_k;
//                                               convex layers U_k; celu)
//
// so with tiny weights ψ ≈ ½‖x‖² and ∇ψ ≈ id: the residual replaces identity pre-training (§1.5,
// paper §IV-C). Here every weight carries a leading batch dim B — one ICNN per distribution — and x is
// [B, n, D], so B potentials are evaluated with batched matmuls and no loop over distributions.
// The weights travel in a DenseIcnnWeights whose tensors have that leading B.
//
// The hypernetwork ("HyperDenseICNN", §1.2) maps a context vector per distribution (the pooled
// embedding of point_cloud_transformer.h) to all ICNN weights at once:
//   θ = MLP(context)  [B, P]  (ReLU hidden layers; every layer N(0, 0.01²) weights and zero biases, §1.2)
//   → split in the order of §1.1 (A_k, W_k, b_k for each k; then U_k; then w_out), row-major views
//   → U_k ← relu(U_k) (non-negative convex layers).
// The N(0, 0.01²) init makes θ ≈ 0 at the start, hence ψ ≈ ½‖x‖² for every context.
//
// Deviation from the reference code (kept optional): HOTET ReLUs only U_k and leaves w_out free, so its
// ψ is not guaranteed convex (§1.1, §1.11). nonnegative_final_layer = true (default) also ReLUs w_out,
// as the benchmark's convexify() does, which makes every generated ψ convex (and (1 + s)-strongly
// convex); false reproduces the code.
//
// Where the set is pooled. generate(context) takes an already-pooled context vector per distribution
// (paper §III-B), so the MLP runs once per distribution. generate_from_points(features, weights) is the
// reference code's order (§1.2): the hidden layers run on every point's embedding, their last output is
// mean-pooled (weighted), and only the output layer sees the pooled vector:
//   θ = W_o · Σ_i w_i h_i + b_o,   h_i = hidden layers(e_i)
// (the reference writes mean_i(W_o h_i + b_o), the same by linearity). The pooled summary is then a
// mean of nonlinear features of the points rather than a mean of the embedding itself — richer when the
// embedding is narrow (width D; at D = 2 a post-LN embedding row carries about one bit, see
// point_cloud_transformer.h).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/autograd/var.h"
#include "engine/nn/mlp.h"
#include "engine/nn/module.h"
#include "engine/random/generator.h"
#include "ot/layers/dense_icnn.h"

namespace brenier::ot {

// Shapes of one ICNN's weights (without the batch dim).
struct HyperIcnnLayout {
  int64_t dim = 2;
  std::vector<int64_t> hidden;  // h_1..h_L, L >= 1
  int64_t rank = 1;             // rank of the quadratic terms (1 everywhere in HOTET, §1.1)

  // P: total scalars of one ICNN, Σ_k (D·r·h_k + h_k·D + h_k) + Σ_k h_{k+1}·h_k + h_L.
  int64_t num_parameters() const;
};

// flat [B, P] → the weights of B ICNNs, each tensor with a leading B (row-major views in §1.1's
// order). No non-negativity is applied here.
DenseIcnnWeights split_icnn_parameters(const Var& flat, const HyperIcnnLayout& layout);

// ψ for B ICNNs at once: x [B, n, D], weights with a leading B (A_k [B, D, r, h_k], W_k [B, h_k, D],
// b_k [B, h_k], U_k [B, h_{k+1}, h_k], w_out [B, 1, h_L]) → [B, n]; ψ_b is evaluated on x_b only.
// Includes the residual ½‖x‖² and (s/2)‖x‖². Throws naming the weight whose shape or dtype is off.
Var hyper_icnn_potential(const Var& x, const DenseIcnnWeights& weights, double strong_convexity);

// ∇ψ_b(x_b) for every b: [B, n, D], by reverse mode (ψ_b depends on x_b only, so the gradient of
// Σ ψ is each set's own map). With create_graph the result stays differentiable w.r.t. the weights
// (and x), as training losses on the map need; requires grad mode on.
Var hyper_icnn_map(const Var& x, const DenseIcnnWeights& weights, double strong_convexity, bool create_graph);

struct HyperDenseIcnnConfig {
  int64_t dim = 2;                   // D of the points the ICNN maps
  int64_t context_dim = 2;           // width of the context vector (the embedding's output width)
  std::vector<int64_t> icnn_hidden;  // empty: w2bench_hidden(D) = [max(2D,64), max(2D,64), max(D,32)] (§1.1)
  int64_t rank = 1;                  // §1.1
  std::vector<int64_t> hyper_hidden; // empty: [max(2D,16)] × 3, the W2B-MMB / GM-prediction value (§1.2)
  double init_std = 0.01;            // every hypernet weight ~ N(0, init_std²), biases 0 (§1.2)
  double strong_convexity = 1e-4;    // s (§1.1)
  bool nonnegative_final_layer = true;  // ReLU on w_out too (see the top of this file); false = reference code
};

class HyperDenseIcnn : public nn::Module {
 public:
  HyperDenseIcnn(const HyperDenseIcnnConfig& config, Generator& gen, DType dtype = DType::F32);

  // context [B, context_dim] → the weights of B ICNNs (leading B), convex layers ReLU'd.
  DenseIcnnWeights generate(const Var& context) const;
  // The flat hypernet output θ [B, P] before splitting and ReLU.
  Var flat_parameters(const Var& context) const;
  // The reference's order (see the top of this file): per-point features [B, n, context_dim] and their
  // weights [B, n] (≥ 0, Σ = 1 per set, 0 = padding, as the embedding's) → the weights of B ICNNs.
  DenseIcnnWeights generate_from_points(const Var& features, const Var& weights) const;
  Var flat_parameters_from_points(const Var& features, const Var& weights) const;

  Var potential(const Var& x, const DenseIcnnWeights& weights) const {
    return hyper_icnn_potential(x, weights, config_.strong_convexity);
  }
  Var map(const Var& x, const DenseIcnnWeights& weights, bool create_graph = false) const {
    return hyper_icnn_map(x, weights, config_.strong_convexity, create_graph);
  }

  const HyperIcnnLayout& layout() const { return layout_; }
  // icnn_hidden and hyper_hidden are filled in (never empty).
  const HyperDenseIcnnConfig& config() const { return config_; }

 private:
  HyperDenseIcnnConfig config_;
  HyperIcnnLayout layout_;
  DType dtype_;
  std::shared_ptr<nn::MLP> net_;
};

}  // namespace brenier::ot
