// HOTET's batched functional ICNN and the hypernetwork that generates it (see hyper_icnn.h).
#include "ot/layers/hyper_icnn.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "engine/nn/functional.h"
#include "engine/nn/init.h"
#include "engine/ops/ops.h"
#include "ot/layers/point_cloud_transformer.h"

namespace brenier::ot {
namespace {

constexpr const char* kOp = "hyper_icnn_potential";

std::string describe(const Var& v) { return v.defined() ? v.data().str() : "undefined"; }

Shape with_batch(int64_t batch, Shape shape) {
  shape.insert(shape.begin(), batch);
  return shape;
}

void check_weight(const Var& v, const std::string& name, const Shape& expected, DType dtype) {
  BRENIER_CHECK(v.defined() && v.shape() == expected && v.dtype() == dtype,
                "{}: weight '{}' must be {} {}, got {}", kOp, name, dtype_name(dtype), shape_str(expected),
                describe(v));
}

// Checks the batched layout against x [B, n, D]; returns the hidden sizes h_1..h_L.
std::vector<int64_t> check_batched_layout(const Var& x, const DenseIcnnWeights& w) {
  BRENIER_CHECK(x.defined() && is_floating(x.dtype()) && x.dim() == 3,
                "{}: argument 'x' must be a floating [B, n, D] batch (one point set per ICNN), got {}", kOp,
                describe(x));
  const int64_t batch = x.size(0), dim = x.size(2);
  const DType dtype = x.dtype();
  const size_t layers = w.quadratic.size();
  BRENIER_CHECK(layers >= 1 && w.linear.size() == layers && w.bias.size() == layers && w.convex.size() == layers - 1,
                "{}: weights must hold L >= 1 entries in quadratic, linear and bias and L - 1 in convex, got "
                "{}, {}, {} and {}",
                kOp, w.quadratic.size(), w.linear.size(), w.bias.size(), w.convex.size());
  const Var& a0 = w.quadratic[0];
  BRENIER_CHECK(a0.defined() && a0.dim() == 4 && a0.size(0) == batch && a0.size(1) == dim && a0.size(2) >= 1 &&
                    a0.dtype() == dtype,
                "{}: weight 'quadratic[0]' must be {} [{}, {}, rank, h_1] (x is {}: one ICNN per set, points of "
                "width D = {}), got {}",
                kOp, dtype_name(dtype), batch, dim, describe(x), dim, describe(a0));
  const int64_t rank = a0.size(2);
  std::vector<int64_t> hidden;
  for (size_t l = 0; l < layers; ++l) {
    const Var& a = w.quadratic[l];
    BRENIER_CHECK(a.defined() && a.dim() == 4 && a.size(0) == batch && a.size(1) == dim && a.size(2) == rank &&
                      a.size(3) >= 1 && a.dtype() == dtype,
                  "{}: weight 'quadratic[{}]' must be {} [{}, {}, {}, h] (x is {}), got {}", kOp, l, dtype_name(dtype),
                  batch, dim, rank, describe(x), describe(a));
    hidden.push_back(a.size(3));
    check_weight(w.linear[l], fmt::format("linear[{}]", l), {batch, hidden[l], dim}, dtype);
    check_weight(w.bias[l], fmt::format("bias[{}]", l), {batch, hidden[l]}, dtype);
    if (l >= 1)
      check_weight(w.convex[l - 1], fmt::format("convex[{}]", l - 1), {batch, hidden[l], hidden[l - 1]}, dtype);
  }
  check_weight(w.final_layer, "final_layer", {batch, 1, hidden.back()}, dtype);
  return hidden;
}

// q_k(x) = Σ_r (x·A_k[:, r, :])² + W_k x + b_k for every set: [B, n, h_k]; one batched matmul against
// A_k viewed as [B, D, r·h_k].
Var batched_quadratic_term(const Var& x, const DenseIcnnWeights& w, size_t l) {
  const int64_t batch = x.size(0), dim = x.size(2);
  const int64_t rank = w.quadratic[l].size(2), h = w.quadratic[l].size(3);
  Var squares = square(matmul(x, reshape(w.quadratic[l], {batch, dim, rank * h})));
  if (rank > 1) squares = sum(reshape(squares, {batch, -1, rank, h}), {2});
  return squares + nn::linear(x, w.linear[l], w.bias[l]);
}

void check_layout_config(const char* op, const HyperIcnnLayout& layout) {
  BRENIER_CHECK(layout.dim >= 1, "{}: layout 'dim' must be >= 1, got {}", op, layout.dim);
  BRENIER_CHECK(layout.rank >= 1, "{}: layout 'rank' must be >= 1, got {}", op, layout.rank);
  BRENIER_CHECK(!layout.hidden.empty() && std::all_of(layout.hidden.begin(), layout.hidden.end(),
                                                      [](int64_t h) { return h >= 1; }),
                "{}: layout 'hidden' must hold at least one size, all >= 1, got [{}]", op,
                fmt::join(layout.hidden, ", "));
}

}  // namespace

int64_t HyperIcnnLayout::num_parameters() const {
  check_layout_config("HyperIcnnLayout::num_parameters", *this);
  int64_t total = 0;
  for (int64_t h : hidden) total += dim * rank * h + h * dim + h;
  for (size_t k = 1; k < hidden.size(); ++k) total += hidden[k] * hidden[k - 1];
  return total + hidden.back();
}

DenseIcnnWeights split_icnn_parameters(const Var& flat, const HyperIcnnLayout& layout) {
  const char* op = "split_icnn_parameters";
  const int64_t total = layout.num_parameters();
  BRENIER_CHECK(flat.defined() && is_floating(flat.dtype()) && flat.dim() == 2 && flat.size(1) == total,
                "{}: argument 'flat' must be a floating [B, {}] tensor (P for dim {}, hidden [{}], rank {}), got {}",
                op, total, layout.dim, fmt::join(layout.hidden, ", "), layout.rank, describe(flat));
  const int64_t batch = flat.size(0), dim = layout.dim, rank = layout.rank;
  const std::vector<int64_t>& h = layout.hidden;
  // §1.1's order: (A_k, W_k, b_k) for every k, then U_k, then w_out.
  std::vector<Shape> shapes;
  for (int64_t hk : h) {
    shapes.push_back({dim, rank, hk});
    shapes.push_back({hk, dim});
    shapes.push_back({hk});
  }
  for (size_t k = 1; k < h.size(); ++k) shapes.push_back({h[k], h[k - 1]});
  shapes.push_back({1, h.back()});
  std::vector<int64_t> sizes;
  for (const Shape& s : shapes) sizes.push_back(numel(s));
  const std::vector<Var> parts = split(flat, sizes, 1);
  DenseIcnnWeights w;
  size_t i = 0;
  for (size_t k = 0; k < h.size(); ++k) {
    w.quadratic.push_back(reshape(parts[i], with_batch(batch, shapes[i])));
    ++i;
    w.linear.push_back(reshape(parts[i], with_batch(batch, shapes[i])));
    ++i;
    w.bias.push_back(reshape(parts[i], with_batch(batch, shapes[i])));
    ++i;
  }
  for (size_t k = 1; k < h.size(); ++k, ++i) w.convex.push_back(reshape(parts[i], with_batch(batch, shapes[i])));
  w.final_layer = reshape(parts[i], with_batch(batch, shapes[i]));
  return w;
}

Var hyper_icnn_potential(const Var& x, const DenseIcnnWeights& w, double strong_convexity) {
  const std::vector<int64_t> hidden = check_batched_layout(x, w);
  BRENIER_CHECK(std::isfinite(strong_convexity), "{}: argument 'strong_convexity' must be finite, got {}", kOp,
                strong_convexity);
  Var z = batched_quadratic_term(x, w, 0);
  for (size_t l = 1; l < hidden.size(); ++l)
    z = celu(nn::linear(z, w.convex[l - 1]) + batched_quadratic_term(x, w, l));
  const Var out = reshape(nn::linear(z, w.final_layer), {x.size(0), x.size(1)});  // [B, n, 1] → [B, n]
  // (s/2)‖x‖² + ½‖x‖² (the residual that makes ψ ≈ ½‖x‖² for small weights).
  return out + (0.5 * (1.0 + strong_convexity)) * sum(square(x), {2});
}

Var hyper_icnn_map(const Var& x, const DenseIcnnWeights& w, double strong_convexity, bool create_graph) {
  BRENIER_CHECK(autograd::grad_enabled(),
                "hyper_icnn_map: grad mode must be on (the map is ∇ψ, computed by differentiating the recorded "
                "forward), got a NoGradGuard in scope");
  BRENIER_CHECK(x.defined(), "hyper_icnn_map: argument 'x' is an undefined Var");
  // A constant input gets a fresh leaf to differentiate against; a graph input keeps its graph.
  Var input = x.requires_grad() ? x : Var(x.data(), /*requires_grad=*/true);
  Var psi = hyper_icnn_potential(input, w, strong_convexity);
  autograd::GradOptions options;
  options.create_graph = create_graph;
  return grad({sum(psi)}, {input}, {}, options)[0];
}

HyperDenseIcnn::HyperDenseIcnn(const HyperDenseIcnnConfig& config, Generator& gen, DType dtype)
    : config_(config), dtype_(dtype) {
  const char* op = "HyperDenseIcnn";
  BRENIER_CHECK(config_.dim >= 1, "{}: config 'dim' must be >= 1, got {}", op, config_.dim);
  BRENIER_CHECK(config_.context_dim >= 1, "{}: config 'context_dim' must be >= 1, got {}", op, config_.context_dim);
  if (config_.icnn_hidden.empty()) config_.icnn_hidden = w2bench_hidden(config_.dim);
  if (config_.hyper_hidden.empty())
    config_.hyper_hidden.assign(3, std::max<int64_t>(2 * config_.dim, 16));
  for (int64_t h : config_.hyper_hidden)
    BRENIER_CHECK(h >= 1, "{}: config 'hyper_hidden' must hold sizes >= 1, got [{}]", op,
                  fmt::join(config_.hyper_hidden, ", "));
  BRENIER_CHECK(config_.init_std >= 0 && std::isfinite(config_.init_std),
                "{}: config 'init_std' must be finite and >= 0, got {}", op, config_.init_std);
  BRENIER_CHECK(config_.strong_convexity >= 0 && std::isfinite(config_.strong_convexity),
                "{}: config 'strong_convexity' must be finite and >= 0, got {}", op, config_.strong_convexity);
  BRENIER_CHECK(is_floating(dtype), "{}: argument 'dtype' must be f32 or f64, got {}", op, dtype_name(dtype));
  layout_ = {config_.dim, config_.icnn_hidden, config_.rank};
  check_layout_config(op, layout_);

  std::vector<int64_t> sizes{config_.context_dim};
  sizes.insert(sizes.end(), config_.hyper_hidden.begin(), config_.hyper_hidden.end());
  sizes.push_back(layout_.num_parameters());
  net_ = register_module("net", std::make_shared<nn::MLP>(sizes, nn::activation("relu"), /*activate_last=*/false,
                                                          /*bias=*/true, gen, dtype));
  // §1.2: every layer, the output layer included, N(0, init_std²) with zero bias, so θ ≈ 0 at the start.
  for (size_t i = 0; i < net_->num_layers(); ++i) {
    const nn::Linear& layer = net_->layer(i);
    nn::init::normal_(layer.weight, gen, 0.0, config_.init_std);
    nn::init::zeros_(layer.bias);
  }
}

Var HyperDenseIcnn::flat_parameters(const Var& context) const {
  BRENIER_CHECK(context.defined() && context.dtype() == dtype_ && context.dim() == 2 &&
                    context.size(1) == config_.context_dim,
                "HyperDenseIcnn: argument 'context' must be {} [B, {}] (one context vector per distribution), got {}",
                dtype_name(dtype_), config_.context_dim, describe(context));
  return net_->forward(context);
}

Var HyperDenseIcnn::flat_parameters_from_points(const Var& features, const Var& weights) const {
  BRENIER_CHECK(features.defined() && features.dtype() == dtype_ && features.dim() == 3 &&
                    features.size(2) == config_.context_dim,
                "HyperDenseIcnn: argument 'features' must be {} [B, n, {}] (one embedding row per point), got {}",
                dtype_name(dtype_), config_.context_dim, describe(features));
  // Hidden layers per point ([B, n, ·] through linear), then pool, then the output layer once per set.
  Var h = features;
  const size_t last = net_->num_layers() - 1;
  for (size_t i = 0; i < last; ++i) h = relu(net_->layer(i).forward(h));
  return net_->layer(last).forward(weighted_mean_pool(h, weights));
}

namespace {
DenseIcnnWeights convexified(const Var& flat, const HyperIcnnLayout& layout, bool nonnegative_final_layer) {
  DenseIcnnWeights w = split_icnn_parameters(flat, layout);
  for (Var& u : w.convex) u = relu(u);
  if (nonnegative_final_layer) w.final_layer = relu(w.final_layer);
  return w;
}
}  // namespace

DenseIcnnWeights HyperDenseIcnn::generate(const Var& context) const {
  return convexified(flat_parameters(context), layout_, config_.nonnegative_final_layer);
}

DenseIcnnWeights HyperDenseIcnn::generate_from_points(const Var& features, const Var& weights) const {
  return convexified(flat_parameters_from_points(features, weights), layout_, config_.nonnegative_final_layer);
}

}  // namespace brenier::ot
