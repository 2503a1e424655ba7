// Functional linear / MLP / embedding layers (see functional.h).
#include "engine/nn/functional.h"

#include "engine/backend/primitives.h"

namespace brenier::nn {

Activation activation(std::string_view name) {
  if (name == "identity") return [](const Var& x) { return x; };
  if (name == "relu") return [](const Var& x) { return relu(x); };
  if (name == "leaky_relu") return [](const Var& x) { return leaky_relu(x); };
  if (name == "celu") return [](const Var& x) { return celu(x); };
  if (name == "softplus") return [](const Var& x) { return softplus(x); };
  if (name == "sigmoid") return [](const Var& x) { return sigmoid(x); };
  if (name == "tanh") return [](const Var& x) { return tanh(x); };
  if (name == "silu") return [](const Var& x) { return silu(x); };
  if (name == "gelu") return [](const Var& x) { return gelu(x); };
  throw Error(fmt::format("activation: argument 'name' must be one of identity, relu, leaky_relu, "
                          "celu, softplus, sigmoid, tanh, silu, gelu; got '{}'",
                          name));
}

namespace {

void check_float(const Var& v, const char* arg) {
  BRENIER_CHECK(v.defined(), "linear: argument '{}' is an undefined Var", arg);
  BRENIER_CHECK(is_floating(v.dtype()), "linear: argument '{}' must be f32 or f64, got {}", arg,
                v.data().str());
}

// weight [out, in]: any leading dims of x are flattened into one batch of rows.
// x @ weight^T reads weight through swapped strides: no transposed copy per call (nor of its
// gradient in backward), which cost ~3% of a DIOTM step.
Var linear_shared(const Var& x, const Var& weight) {
  if (x.dim() == 2 || x.dim() == 3) return matmul(x, weight, false, true);
  Shape out_shape = x.shape();
  out_shape.back() = weight.size(0);
  return reshape(matmul(reshape(x, {-1, x.size(-1)}), weight, false, true), out_shape);
}

}  // namespace

Var linear(const Var& x, const Var& weight, const Var& bias) {
  check_float(x, "x");
  check_float(weight, "weight");
  BRENIER_CHECK(weight.dim() == 2 || weight.dim() == 3,
                "linear: argument 'weight' must be [out, in] or batched [B, out, in], got {}",
                weight.data().str());
  BRENIER_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(-1),
                "linear: argument 'x' must have last dim {} (weight is {}), got {}", weight.size(-1),
                shape_str(weight.shape()), x.data().str());
  BRENIER_CHECK(x.dtype() == weight.dtype(),
                "linear: argument 'x' must have the weight's dtype {}, got {}",
                dtype_name(weight.dtype()), x.data().str());
  const int64_t out = weight.size(-2);
  Var y;
  if (weight.dim() == 2) {
    y = linear_shared(x, weight);
  } else {
    const int64_t batch = weight.size(0);
    BRENIER_CHECK(x.dim() == 2 || (x.dim() == 3 && x.size(0) == batch),
                  "linear: argument 'x' must be [{}, n, {}] or [n, {}] for batched weight {}, got {}",
                  batch, weight.size(-1), weight.size(-1), shape_str(weight.shape()), x.data().str());
    y = matmul(x, weight, false, true);  // [B, n, out]
  }
  if (!bias.defined()) return y;
  check_float(bias, "bias");
  if (weight.dim() == 3 && bias.dim() == 2) {
    BRENIER_CHECK(bias.shape() == (Shape{weight.size(0), out}),
                  "linear: argument 'bias' must be [{}, {}] or [{}] for weight {}, got {}",
                  weight.size(0), out, out, shape_str(weight.shape()), bias.data().str());
    return y + unsqueeze(bias, 1);  // [B, 1, out]: one bias per batch entry, shared by its rows
  }
  BRENIER_CHECK(bias.shape() == Shape{out}, "linear: argument 'bias' must be [{}] for weight {}, got {}",
                out, shape_str(weight.shape()), bias.data().str());
  return y + bias;
}

Var mlp(const Var& x, const std::vector<Var>& weights, const std::vector<Var>& biases,
        const Activation& act, bool activate_last) {
  BRENIER_CHECK(!weights.empty(), "mlp: argument 'weights' must hold at least one layer, got none");
  BRENIER_CHECK(biases.empty() || biases.size() == weights.size(),
                "mlp: argument 'biases' must be empty or have one entry per weight ({}), got {}",
                weights.size(), biases.size());
  BRENIER_CHECK(static_cast<bool>(act), "mlp: argument 'act' is an empty function");
  Var h = x;
  for (size_t i = 0; i < weights.size(); ++i) {
    h = linear(h, weights[i], biases.empty() ? Var() : biases[i]);
    if (i + 1 < weights.size() || activate_last) h = act(h);
  }
  return h;
}

Var embedding(const Tensor& indices, const Var& weight) {
  check_defined(indices, "embedding", "indices");
  BRENIER_CHECK(weight.defined() && weight.dim() == 2,
                "embedding: argument 'weight' must be [num, dim], got {}",
                weight.defined() ? weight.data().str() : "an undefined Var");
  BRENIER_CHECK(indices.dtype() == DType::I64, "embedding: argument 'indices' must be i64, got {}",
                indices.str());
  const int64_t num = weight.size(0);
  if (indices.numel() > 0) {
    Tensor flat = indices.reshape({-1});
    const auto lo = static_cast<int64_t>(prim::reduce(prim::Reduce::Min, flat, {}, false).item());
    const auto hi = static_cast<int64_t>(prim::reduce(prim::Reduce::Max, flat, {}, false).item());
    BRENIER_CHECK(lo >= 0 && hi < num,
                  "embedding: argument 'indices' must lie in [0, {}) (weight is {}), got values in [{}, {}]",
                  num, shape_str(weight.shape()), lo, hi);
  }
  Shape out_shape = indices.shape();
  out_shape.push_back(weight.size(1));
  return reshape(index_select(weight, 0, indices.reshape({-1})), out_shape);
}

}  // namespace brenier::nn
