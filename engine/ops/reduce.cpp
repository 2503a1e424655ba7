// Reductions, softmax family, layer norm, and the non-differentiable index/count/compare ops.
#include <algorithm>

#include "engine/ops/common.h"

namespace brenier {
using namespace ops_detail;
using prim::Binary;
using prim::Reduce;

namespace ops_detail {

Dims normalize_dims(const Dims& dims, int64_t rank, const char* op) {
  Dims out;
  if (dims.empty()) {
    for (int64_t d = 0; d < rank; ++d) out.push_back(d);
    return out;
  }
  for (int64_t d : dims) out.push_back(wrap_dim(d, rank, op, "dims"));
  std::sort(out.begin(), out.end());
  BRENIER_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(),
                "{}: argument 'dims' repeats a dimension: [{}]", op, fmt::join(dims, ", "));
  return out;
}

Shape keepdim_shape(const Shape& in, const Dims& dims) {
  Shape s = in;
  for (int64_t d : dims) s[d] = 1;
  return s;
}

}  // namespace ops_detail

namespace {

// Broadcasts a reduction's gradient (shaped like the output) back to the input's shape.
Var expand_back(const Var& g, const Shape& in_shape, const Dims& dims) {
  return broadcast_to(reshape(g, keepdim_shape(in_shape, dims)), in_shape);
}

int64_t count_of(const Shape& shape, const Dims& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= shape[d];
  return n;
}

Var extremum(const char* op, Reduce kind, const Var& x, const Dims& dims, bool keepdim) {
  check_float_var(x, op, "x");
  Dims ds = normalize_dims(dims, x.dim(), op);
  BRENIER_CHECK(x.numel() > 0, "{}: argument 'x' ({}) is empty; {} of nothing is undefined", op,
                x.data().str(), op);
  Tensor out = prim::reduce(kind, x.data(), ds, keepdim);
  return record(op, out, {x}, [ds](const BackwardArgs& r) {
    const Var& x = r.inputs[0];
    Tensor kept = r.out.data().reshape(keepdim_shape(x.shape(), ds));
    Tensor hit = prim::binary(Binary::Eq, x.data(), kept);  // ties share the gradient equally
    Tensor hits = prim::reduce(Reduce::Sum, hit, ds, true);
    // hit * (grad / hits): the division runs on the reduced shape and the one full-size pass is a
    // broadcasting product, instead of materializing both the broadcast gradient and hit / hits
    // (on HOTET's [8, 1024, 1024] scores, two fewer 32 MiB passes per max).
    Var per_hit = reshape(r.grad, keepdim_shape(x.shape(), ds)) / constant(hits);
    return std::vector<Var>{constant(hit) * per_hit};
  });
}

}  // namespace

Var sum(const Var& x, const Dims& dims, bool keepdim) {
  check_float_var(x, "sum", "x");
  Dims ds = normalize_dims(dims, x.dim(), "sum");
  return record("sum", prim::reduce(Reduce::Sum, x.data(), ds, keepdim), {x}, [ds](const BackwardArgs& r) {
    return std::vector<Var>{expand_back(r.grad, r.inputs[0].shape(), ds)};
  });
}

Var mean(const Var& x, const Dims& dims, bool keepdim) {
  check_float_var(x, "mean", "x");
  Dims ds = normalize_dims(dims, x.dim(), "mean");
  int64_t n = count_of(x.shape(), ds);
  BRENIER_CHECK(n > 0, "mean: argument 'x' ({}) has no elements along dims [{}]", x.data().str(),
                fmt::join(ds, ", "));
  return sum(x, ds, keepdim) * (1.0 / static_cast<double>(n));
}

Var max(const Var& x, const Dims& dims, bool keepdim) { return extremum("max", Reduce::Max, x, dims, keepdim); }
Var min(const Var& x, const Dims& dims, bool keepdim) { return extremum("min", Reduce::Min, x, dims, keepdim); }

Var logsumexp(const Var& x, int64_t dim, bool keepdim) {
  check_float_var(x, "logsumexp", "x");
  int64_t d = wrap_dim(dim, x.dim(), "logsumexp");
  BRENIER_CHECK(x.size(d) > 0, "logsumexp: dim {} of argument 'x' ({}) is empty", d, x.data().str());
  // Stable forward: m + log(sum(exp(x - m))).
  Tensor m = prim::reduce(Reduce::Max, x.data(), {d}, true);
  Tensor shifted = prim::unary(prim::Unary::Exp, prim::binary(Binary::Sub, x.data(), m));
  Tensor out = prim::binary(Binary::Add, prim::unary(prim::Unary::Log,
                                                     prim::reduce(Reduce::Sum, shifted, {d}, true)), m);
  if (!keepdim) {
    Shape s = x.shape();
    s.erase(s.begin() + d);
    out = out.reshape(s);
  }
  return record("logsumexp", out, {x}, [d](const BackwardArgs& r) {
    const Var& x = r.inputs[0];
    return std::vector<Var>{expand_back(r.grad, x.shape(), {d}) * softmax(x, d)};
  });
}

Var softmax(const Var& x, int64_t dim) {
  check_float_var(x, "softmax", "x");
  int64_t d = wrap_dim(dim, x.dim(), "softmax");
  return record("softmax", prim::softmax(x.data(), d, false), {x}, [d](const BackwardArgs& r) {
    const Var& y = r.out;
    // First order: one fused primitive (on HOTET's [32, 1024, 1024] attention it replaces four
    // 128 MiB passes); under create_graph the formula in ops, so it can be differentiated again.
    if (!autograd::grad_enabled())
      return std::vector<Var>{constant(prim::softmax_backward(y.data(), r.grad.data(), d))};
    return std::vector<Var>{y * (r.grad - sum(r.grad * y, {d}, true))};
  });
}

Var log_softmax(const Var& x, int64_t dim) {
  check_float_var(x, "log_softmax", "x");
  int64_t d = wrap_dim(dim, x.dim(), "log_softmax");
  return record("log_softmax", prim::softmax(x.data(), d, true), {x}, [d](const BackwardArgs& r) {
    return std::vector<Var>{r.grad - exp(r.out) * sum(r.grad, {d}, true)};
  });
}

Var layer_norm(const Var& x, const Var& weight, const Var& bias, double eps) {
  check_float_var(x, "layer_norm", "x");
  BRENIER_CHECK(x.dim() >= 1 && x.size(-1) > 0, "layer_norm: argument 'x' must have a non-empty last dim, got {}",
                x.data().str());
  BRENIER_CHECK(eps > 0, "layer_norm: argument 'eps' must be > 0, got {}", eps);
  const Shape affine{x.size(-1)};
  for (const Var* p : {&weight, &bias})
    BRENIER_CHECK(!p->defined() || p->shape() == affine, "layer_norm: argument '{}' must have shape {}, got {}",
                  p == &weight ? "weight" : "bias", shape_str(affine), p->data().str());
  Var y = record("layer_norm", prim::layer_norm(x.data(), eps), {x}, [eps](const BackwardArgs& r) {
    // dx = rstd * (g - mean(g) - y * mean(g * y)), with y and rstd as ops of x (differentiable again).
    const Var &x = r.inputs[0], &y = r.out, &g = r.grad;
    Var centered = x - mean(x, {-1}, true);
    Var rstd = pow(mean(square(centered), {-1}, true) + eps, -0.5);
    return std::vector<Var>{rstd * (g - mean(g, {-1}, true) - y * mean(g * y, {-1}, true))};
  });
  if (weight.defined()) y = y * weight;
  if (bias.defined()) y = y + bias;
  return y;
}

// --- not differentiable -------------------------------------------------------------------------

Tensor argmax(const Var& x, int64_t dim, bool keepdim) {
  check_var(x, "argmax", "x");
  return prim::argreduce(true, x.data(), dim, keepdim);
}
Tensor argmin(const Var& x, int64_t dim, bool keepdim) {
  check_var(x, "argmin", "x");
  return prim::argreduce(false, x.data(), dim, keepdim);
}

TopK topk(const Var& x, int64_t k, int64_t dim, bool largest) {
  check_var(x, "topk", "x");
  int64_t d = wrap_dim(dim, x.dim(), "topk");
  std::vector<Tensor> vi = prim::topk(x.data(), k, d, largest);
  if (!x.requires_grad()) return {constant(vi[0]), vi[1]};
  return {gather(x, d, vi[1]), vi[1]};
}

Tensor bincount(const Tensor& index, int64_t minlength) { return prim::bincount(index, minlength); }
Tensor one_hot(const Tensor& index, int64_t num_classes, DType dtype) {
  return prim::one_hot(index, num_classes, dtype);
}

namespace {
Tensor compare(Binary op, const Var& a, const Var& b, const char* name) {
  check_var(a, name, "a");
  check_var(b, name, "b");
  return prim::binary(op, a.data(), b.data());
}
}  // namespace
Tensor eq(const Var& a, const Var& b) { return compare(Binary::Eq, a, b, "eq"); }
Tensor ne(const Var& a, const Var& b) { return compare(Binary::Ne, a, b, "ne"); }
Tensor lt(const Var& a, const Var& b) { return compare(Binary::Lt, a, b, "lt"); }
Tensor le(const Var& a, const Var& b) { return compare(Binary::Le, a, b, "le"); }
Tensor gt(const Var& a, const Var& b) { return compare(Binary::Gt, a, b, "gt"); }
Tensor ge(const Var& a, const Var& b) { return compare(Binary::Ge, a, b, "ge"); }

}  // namespace brenier
