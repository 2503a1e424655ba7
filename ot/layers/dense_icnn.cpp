// The W2 benchmark's DenseICNN: functional forward, its gradient map, and the module (see dense_icnn.h).
#include "ot/layers/dense_icnn.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "engine/nn/functional.h"
#include "engine/nn/init.h"
#include "engine/nn/module_list.h"
#include "engine/ops/ops.h"

namespace brenier::ot {
namespace {

constexpr const char* kOp = "dense_icnn_potential";

std::string describe(const Var& v) { return v.defined() ? v.data().str() : "undefined"; }

void check_weight(const Var& v, const std::string& name, const Shape& expected, DType dtype) {
  BRENIER_CHECK(v.defined() && v.shape() == expected && v.dtype() == dtype,
                "{}: weight '{}' must be {} {}, got {}", kOp, name, dtype_name(dtype), shape_str(expected),
                describe(v));
}

// Checks the whole layout against x [n, D]; returns the hidden sizes h_0..h_{L−1}.
std::vector<int64_t> check_layout(const Var& x, const DenseIcnnWeights& w) {
  BRENIER_CHECK(x.defined() && is_floating(x.dtype()) && x.dim() == 2,
                "{}: argument 'x' must be a floating [n, D] batch, got {}", kOp, describe(x));
  const int64_t dim = x.size(1);
  const DType dtype = x.dtype();
  const size_t layers = w.quadratic.size();
  BRENIER_CHECK(layers >= 1 && w.linear.size() == layers && w.bias.size() == layers && w.convex.size() == layers - 1,
                "{}: weights must hold L ≥ 1 entries in quadratic, linear and bias and L − 1 in convex, got "
                "{}, {}, {} and {}",
                kOp, w.quadratic.size(), w.linear.size(), w.bias.size(), w.convex.size());
  const Var& a0 = w.quadratic[0];
  BRENIER_CHECK(a0.defined() && a0.dim() == 3 && a0.size(0) == dim && a0.size(1) >= 1 && a0.dtype() == dtype,
                "{}: weight 'quadratic[0]' must be {} [{}, rank, h_0] (x is {}), got {}", kOp, dtype_name(dtype),
                dim, x.data().str(), describe(a0));
  const int64_t rank = a0.size(1);
  std::vector<int64_t> hidden;
  for (size_t l = 0; l < layers; ++l) {
    const Var& a = w.quadratic[l];
    BRENIER_CHECK(a.defined() && a.dim() == 3 && a.size(0) == dim && a.size(1) == rank && a.size(2) >= 1 &&
                      a.dtype() == dtype,
                  "{}: weight 'quadratic[{}]' must be {} [{}, {}, h] (x is {}), got {}", kOp, l, dtype_name(dtype),
                  dim, rank, x.data().str(), describe(a));
    hidden.push_back(a.size(2));
    check_weight(w.linear[l], fmt::format("linear[{}]", l), {hidden[l], dim}, dtype);
    check_weight(w.bias[l], fmt::format("bias[{}]", l), {hidden[l]}, dtype);
    if (l >= 1) check_weight(w.convex[l - 1], fmt::format("convex[{}]", l - 1), {hidden[l], hidden[l - 1]}, dtype);
  }
  check_weight(w.final_layer, "final_layer", {1, hidden.back()}, dtype);
  return hidden;
}

// q_l(x) = Σ_r (xᵀA_l[:, r, :])² + W_l x + b_l: [n, h_l]. One matmul per layer against A_l viewed
// as [D, rank·h_l] (column r·h_l + j). Concatenating all layers' factors into one matmul was measured
// (CPU, 1 thread, n = 1024, dims 2–128): no faster forward, and 5–50 % slower in a double-backward
// step, as the concat/split cost more than the matmuls saved at these sizes; so the plain form stays.
Var quadratic_term(const Var& x, const DenseIcnnWeights& w, size_t l) {
  const int64_t rank = w.quadratic[l].size(1), h = w.quadratic[l].size(2);
  Var squares = square(matmul(x, reshape(w.quadratic[l], {x.size(1), rank * h})));
  if (rank > 1) squares = sum(reshape(squares, {-1, rank, h}), {1});
  return squares + nn::linear(x, w.linear[l], w.bias[l]);
}

// A module that only holds named parameters: one layer of the checkpoint's tree.
class ParameterGroup : public nn::Module {
 public:
  Var add(const std::string& name, const Shape& shape, DType dtype, Generator& gen, double std) {
    Var v = register_parameter(name, Var(Tensor::empty(shape, dtype)));
    if (std > 0)
      nn::init::normal_(v, gen, 0.0, std);
    else
      nn::init::zeros_(v);
    return v;
  }
};

}  // namespace

std::vector<int64_t> w2bench_hidden(int64_t dim) {
  BRENIER_CHECK(dim >= 1, "w2bench_hidden: argument 'dim' must be >= 1, got {}", dim);
  return {std::max<int64_t>(2 * dim, 64), std::max<int64_t>(2 * dim, 64), std::max<int64_t>(dim, 32)};
}

Var dense_icnn_potential(const Var& x, const DenseIcnnWeights& w, double strong_convexity) {
  const std::vector<int64_t> hidden = check_layout(x, w);
  BRENIER_CHECK(std::isfinite(strong_convexity), "{}: argument 'strong_convexity' must be finite, got {}", kOp,
                strong_convexity);
  Var z = quadratic_term(x, w, 0);
  for (size_t l = 1; l < hidden.size(); ++l) z = celu(nn::linear(z, w.convex[l - 1]) + quadratic_term(x, w, l));
  // [n, 1] columns: final · z, then (s/2)‖x‖².
  Var out = nn::linear(z, w.final_layer) + (0.5 * strong_convexity) * sum(square(x), {1}, /*keepdim=*/true);
  return reshape(out, {-1});
}

Var dense_icnn_map(const Var& x, const DenseIcnnWeights& w, double strong_convexity, bool create_graph) {
  BRENIER_CHECK(autograd::grad_enabled(),
                "dense_icnn_map: grad mode must be on (the map is ∇ψ, computed by differentiating the "
                "recorded forward), got a NoGradGuard in scope");
  BRENIER_CHECK(x.defined(), "dense_icnn_map: argument 'x' is an undefined Var");
  // A constant input gets a fresh leaf to differentiate against; a graph input keeps its graph.
  Var input = x.requires_grad() ? x : Var(x.data(), /*requires_grad=*/true);
  Var psi = dense_icnn_potential(input, w, strong_convexity);
  autograd::GradOptions options;
  options.create_graph = create_graph;
  return grad({sum(psi)}, {input}, {}, options)[0];
}

DenseIcnn::DenseIcnn(const DenseIcnnConfig& config, Generator& gen, DType dtype) : config_(config) {
  const char* op = "DenseIcnn";
  BRENIER_CHECK(config_.dim >= 1, "{}: config 'dim' must be >= 1, got {}", op, config_.dim);
  if (config_.hidden.empty()) config_.hidden = w2bench_hidden(config_.dim);
  for (int64_t h : config_.hidden)
    BRENIER_CHECK(h >= 1, "{}: config 'hidden' must hold sizes >= 1, got [{}]", op, fmt::join(config_.hidden, ", "));
  BRENIER_CHECK(config_.rank >= 1, "{}: config 'rank' must be >= 1, got {}", op, config_.rank);
  BRENIER_CHECK(config_.init_std >= 0 && std::isfinite(config_.init_std),
                "{}: config 'init_std' must be finite and >= 0, got {}", op, config_.init_std);
  BRENIER_CHECK(config_.strong_convexity >= 0 && std::isfinite(config_.strong_convexity),
                "{}: config 'strong_convexity' must be finite and >= 0 (ψ must stay convex), got {}", op,
                config_.strong_convexity);
  BRENIER_CHECK(is_floating(dtype), "{}: argument 'dtype' must be f32 or f64, got {}", op, dtype_name(dtype));

  // Registration order = the checkpoint's order: quadratic layers, convex layers, final layer.
  const int64_t dim = config_.dim, rank = config_.rank;
  const double std = config_.init_std;
  const std::vector<int64_t>& h = config_.hidden;
  auto quadratic_layers = register_module("quadratic_layers", std::make_shared<nn::ModuleList>());
  for (int64_t hl : h) {
    auto layer = quadratic_layers->push_back(std::make_shared<ParameterGroup>());
    weights_.quadratic.push_back(layer->add("quadratic_decomposed", {dim, rank, hl}, dtype, gen, std));
    weights_.linear.push_back(layer->add("weight", {hl, dim}, dtype, gen, std));
    weights_.bias.push_back(layer->add("bias", {hl}, dtype, gen, std));
  }
  auto convex_layers = register_module("convex_layers", std::make_shared<nn::ModuleList>());
  for (size_t l = 1; l < h.size(); ++l) {
    auto layer = convex_layers->push_back(std::make_shared<ParameterGroup>());
    weights_.convex.push_back(layer->add("weight", {h[l], h[l - 1]}, dtype, gen, std));
  }
  auto final_layer = register_module("final_layer", std::make_shared<ParameterGroup>());
  weights_.final_layer = final_layer->add("weight", {1, h.back()}, dtype, gen, std);
}

void DenseIcnn::convexify() {
  NoGradGuard no_grad;
  for (Var& v : convex_weights()) {
    Tensor clamped = clamp_min(v, 0.0).data();
    v.data().copy_from(clamped);
  }
}

std::vector<Var> DenseIcnn::convex_weights() const {
  std::vector<Var> out = weights_.convex;
  out.push_back(weights_.final_layer);
  return out;
}

}  // namespace brenier::ot
