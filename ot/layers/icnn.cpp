// The bench ICNN: functional forward, its gradient map, and the parameter-owning module (see icnn.h).
#include "ot/layers/icnn.h"

#include <cmath>
#include <string>

#include "engine/nn/functional.h"
#include "engine/nn/init.h"
#include "engine/ops/ops.h"

namespace brenier::ot {
namespace {

constexpr const char* kOp = "icnn_potential";

std::string describe(const Var& v) { return v.defined() ? v.data().str() : "undefined"; }

void check_weight(const Var& v, const std::string& name, const Shape& expected, DType dtype) {
  BRENIER_CHECK(v.defined() && v.shape() == expected && v.dtype() == dtype,
                "{}: weight '{}' must be {} {}, got {}", kOp, name, dtype_name(dtype),
                shape_str(expected), describe(v));
}

// Checks the whole layout against x [n, D]; returns the hidden sizes.
std::vector<int64_t> check_layout(const Var& x, const IcnnWeights& wts) {
  BRENIER_CHECK(x.defined() && is_floating(x.dtype()) && x.dim() == 2,
                "{}: argument 'x' must be a floating [n, D] batch, got {}", kOp, describe(x));
  const int64_t dim = x.size(1);
  const DType dtype = x.dtype();
  const size_t layers = wts.A.size();
  BRENIER_CHECK(layers >= 1 && wts.b.size() == layers && wts.W.size() == layers - 1,
                "{}: weights must hold L ≥ 1 entries in A and b and L − 1 in W, got {} A, {} b, {} W", kOp,
                wts.A.size(), wts.b.size(), wts.W.size());
  std::vector<int64_t> hidden;
  for (size_t k = 0; k < layers; ++k) {
    const Var& a = wts.A[k];
    BRENIER_CHECK(a.defined() && a.dim() == 2 && a.size(1) == dim && a.size(0) >= 1 && a.dtype() == dtype,
                  "{}: weight 'A[{}]' must be {} [h, {}] (x is {}), got {}", kOp, k, dtype_name(dtype),
                  dim, x.data().str(), describe(a));
    hidden.push_back(a.size(0));
    check_weight(wts.b[k], fmt::format("b[{}]", k), {hidden[k]}, dtype);
    if (k >= 1) check_weight(wts.W[k - 1], fmt::format("W[{}]", k - 1), {hidden[k], hidden[k - 1]}, dtype);
  }
  check_weight(wts.w, "w", {hidden.back()}, dtype);
  check_weight(wts.a, "a", {dim}, dtype);
  check_weight(wts.c, "c", {1}, dtype);
  return hidden;
}

}  // namespace

std::vector<int64_t> bench_icnn_hidden(int64_t dim) {
  BRENIER_CHECK(dim >= 1, "bench_icnn_hidden: argument 'dim' must be >= 1, got {}", dim);
  if (dim <= 8) return {64, 64, 32};
  return {128, 128, 64};
}

Var icnn_potential(const Var& x, const IcnnWeights& wts, double quadratic) {
  const std::vector<int64_t> hidden = check_layout(x, wts);
  Var z = celu(nn::linear(x, wts.A[0], wts.b[0]));
  for (size_t k = 1; k < hidden.size(); ++k)
    z = celu(nn::linear(z, wts.W[k - 1]) + nn::linear(x, wts.A[k], wts.b[k]));
  // [n, 1] columns summed once: w⁺·z_L, a·x + c, ½‖x‖².
  Var out = matmul(z, reshape(wts.w, {-1, 1})) + matmul(x, reshape(wts.a, {-1, 1})) + wts.c +
            (0.5 * quadratic) * sum(square(x), {1}, /*keepdim=*/true);
  return reshape(out, {-1});
}

Var icnn_map(const Var& x, const IcnnWeights& weights, bool create_graph, double quadratic) {
  BRENIER_CHECK(autograd::grad_enabled(),
                "icnn_map: grad mode must be on (the map is ∇ψ, computed by differentiating the "
                "recorded forward), got a NoGradGuard in scope");
  BRENIER_CHECK(x.defined(), "icnn_map: argument 'x' is an undefined Var");
  // A constant input gets a fresh leaf to differentiate against; a graph input keeps its graph.
  Var input = x.requires_grad() ? x : Var(x.data(), /*requires_grad=*/true);
  Var psi = icnn_potential(input, weights, quadratic);
  autograd::GradOptions options;
  options.create_graph = create_graph;
  return grad({sum(psi)}, {input}, {}, options)[0];
}

Icnn::Icnn(const IcnnConfig& config, Generator& gen, DType dtype)
    : dim_(config.dim),
      hidden_(config.hidden.empty() ? bench_icnn_hidden(config.dim) : config.hidden),
      quadratic_(config.quadratic) {
  const char* op = "Icnn";
  BRENIER_CHECK(dim_ >= 1, "{}: config 'dim' must be >= 1, got {}", op, dim_);
  for (int64_t h : hidden_)
    BRENIER_CHECK(h >= 1, "{}: config 'hidden' must hold sizes >= 1, got {}", op, fmt::join(hidden_, ", "));
  BRENIER_CHECK(config.weight_init_std >= 0 && std::isfinite(config.weight_init_std),
                "{}: config 'weight_init_std' must be finite and >= 0, got {}", op, config.weight_init_std);
  BRENIER_CHECK(quadratic_ >= 0 && std::isfinite(quadratic_),
                "{}: config 'quadratic' must be finite and >= 0 (ψ must stay convex), got {}", op, quadratic_);
  BRENIER_CHECK(is_floating(dtype), "{}: argument 'dtype' must be f32 or f64, got {}", op, dtype_name(dtype));

  // nn::Linear's default init for the affine-in-x weights: U(±1/√fan_in), fan_in = D.
  const double bound = 1.0 / std::sqrt(static_cast<double>(dim_));
  auto affine = [&](const std::string& name, Shape shape) {
    Var v = register_parameter(name, Var(Tensor::empty(shape, dtype)));
    nn::init::uniform_(v, gen, -bound, bound);
    return v;
  };
  auto convex = [&](const std::string& name, Shape shape) {
    Var v = register_parameter(name, Var(Tensor::empty(shape, dtype)));
    if (config.weight_init_std > 0)
      nn::init::normal_(v, gen, 0.0, config.weight_init_std);
    else
      nn::init::zeros_(v);
    return v;
  };
  for (size_t k = 0; k < hidden_.size(); ++k) {
    weights_.A.push_back(affine(fmt::format("A{}", k), {hidden_[k], dim_}));
    weights_.b.push_back(affine(fmt::format("b{}", k), {hidden_[k]}));
    if (k >= 1) weights_.W.push_back(convex(fmt::format("W{}", k), {hidden_[k], hidden_[k - 1]}));
  }
  weights_.w = convex("w", {hidden_.back()});
  weights_.a = affine("a", {dim_});
  weights_.c = affine("c", {1});
  convexify();
}

void Icnn::convexify() {
  NoGradGuard no_grad;
  for (Var& v : convex_weights()) {
    Tensor clamped = clamp_min(v, 0.0).data();
    v.data().copy_from(clamped);
  }
}

std::vector<Var> Icnn::convex_weights() const {
  std::vector<Var> out = weights_.W;
  out.push_back(weights_.w);
  return out;
}

}  // namespace brenier::ot
