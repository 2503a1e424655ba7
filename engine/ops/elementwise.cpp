// Arithmetic and element-wise functions with their backward formulas.
// Backwards that have a fused primitive use it when grad mode is off (a first-order backward);
// under create_graph they are written in differentiable ops so they can be differentiated again.
#include <cmath>
#include <numbers>

#include "engine/ops/common.h"

namespace brenier {
using namespace ops_detail;
using prim::Binary;
using prim::Unary;

namespace {

void check_pair(const Var& a, const Var& b, const char* op) {
  check_float_var(a, op, "a");
  check_float_var(b, op, "b");
  BRENIER_CHECK(a.dtype() == b.dtype(), "{}: arguments 'a' and 'b' must have the same dtype, got {} and {}",
                op, a.data().str(), b.data().str());
  BRENIER_CHECK(a.device() == b.device(), "{}: arguments 'a' and 'b' must be on the same device, got {} and {}",
                op, a.data().str(), b.data().str());
}

Var unary_op(const char* op, Unary u, const Var& x, double p,
             std::function<Var(const Var& g, const Var& x, const Var& out)> dx) {
  check_float_var(x, op, "x");
  return record(op, prim::unary(u, x.data(), p), {x}, [dx](const BackwardArgs& a) {
    return std::vector<Var>{dx(a.grad, a.inputs[0], a.out)};
  });
}

// A mask-like constant computed from x by a primitive (derivative of piecewise functions).
Var unary_const(Unary u, const Var& x, double p = 0.0) { return constant(prim::unary(u, x.data(), p)); }

// Activation derivatives as ops of their own, for backwards under create_graph (double backward
// through an MLP): one fused map forward, and a backward of one map and one product, instead of
// recording the 7-10 element-wise ops of the written-out formula and differentiating each of them
// (the HJB step of DIOTM spent most of its element-wise time there). Their own backward falls back
// to the formula in ops under create_graph, so every order stays differentiable.

// silu'(x) = s (1 + x (1 - s)); silu''(x) = s (1 - s) (2 + x (1 - 2 s)), s = sigmoid(x).
Var silu_grad(const Var& x) {
  return unary_op("silu_grad", Unary::SiluGrad, x, 0, [](const Var& g, const Var& x, const Var&) {
    if (!autograd::grad_enabled()) return g * unary_const(Unary::SiluGrad2, x);
    Var s = sigmoid(x);
    return g * (s * (1.0 - s) * (2.0 + x * (1.0 - 2.0 * s)));
  });
}

// gelu'(x) = Phi(x) + x phi(x); gelu''(x) = phi(x) (2 - x^2).
Var gelu_grad(const Var& x) {
  return unary_op("gelu_grad", Unary::GeluGrad, x, 0, [](const Var& g, const Var& x, const Var&) {
    if (!autograd::grad_enabled()) return g * unary_const(Unary::GeluGrad2, x);
    Var pdf = exp(square(x) * -0.5) * (1.0 / std::sqrt(2.0 * std::numbers::pi));
    return g * (pdf * (2.0 - square(x)));
  });
}

// celu'(x) = 1 (x > 0) or exp(x / alpha); celu''(x) = 0 (x > 0) or exp(x / alpha) / alpha, and every
// higher derivative is the one before divided by alpha, so celu_grad2 is its own derivative's
// building block and the chain is differentiable to any order. The primitives branch on x, so
// exp never sees a large positive x (no overflow, no 0 * inf in a masked formula).
Var celu_grad2(const Var& x, double alpha) {
  return unary_op("celu_grad2", Unary::CeluGrad2, x, alpha, [alpha](const Var& g, const Var& x, const Var& out) {
    if (!autograd::grad_enabled()) return g * (constant(out.data()) * (1.0 / alpha));
    return g * (celu_grad2(x, alpha) * (1.0 / alpha));
  });
}
Var celu_grad(const Var& x, double alpha) {
  return unary_op("celu_grad", Unary::CeluGrad, x, alpha, [alpha](const Var& g, const Var& x, const Var&) {
    if (!autograd::grad_enabled()) return g * unary_const(Unary::CeluGrad2, x, alpha);
    return g * celu_grad2(x, alpha);
  });
}

}  // namespace

// --- arithmetic ---------------------------------------------------------------------------------

Var add(const Var& a, const Var& b) {
  check_pair(a, b, "add");
  return record("add", prim::binary(Binary::Add, a.data(), b.data()), {a, b}, [](const BackwardArgs& r) {
    return std::vector<Var>{r.needs[0] ? sum_to(r.grad, r.inputs[0].shape()) : Var(),
                            r.needs[1] ? sum_to(r.grad, r.inputs[1].shape()) : Var()};
  });
}

Var sub(const Var& a, const Var& b) {
  check_pair(a, b, "sub");
  return record("sub", prim::binary(Binary::Sub, a.data(), b.data()), {a, b}, [](const BackwardArgs& r) {
    return std::vector<Var>{r.needs[0] ? sum_to(r.grad, r.inputs[0].shape()) : Var(),
                            r.needs[1] ? sum_to(neg(r.grad), r.inputs[1].shape()) : Var()};
  });
}

Var mul(const Var& a, const Var& b) {
  check_pair(a, b, "mul");
  return record("mul", prim::binary(Binary::Mul, a.data(), b.data()), {a, b}, [](const BackwardArgs& r) {
    const Var &x = r.inputs[0], &y = r.inputs[1];
    return std::vector<Var>{r.needs[0] ? sum_to(r.grad * y, x.shape()) : Var(),
                            r.needs[1] ? sum_to(r.grad * x, y.shape()) : Var()};
  });
}

Var div(const Var& a, const Var& b) {
  check_pair(a, b, "div");
  return record("div", prim::binary(Binary::Div, a.data(), b.data()), {a, b}, [](const BackwardArgs& r) {
    const Var &x = r.inputs[0], &y = r.inputs[1];
    return std::vector<Var>{r.needs[0] ? sum_to(r.grad / y, x.shape()) : Var(),
                            r.needs[1] ? sum_to(neg(r.grad * x) / square(y), y.shape()) : Var()};
  });
}

Var neg(const Var& x) {
  check_float_var(x, "neg", "x");
  return record("neg", prim::unary(Unary::Neg, x.data()), {x},
                [](const BackwardArgs& r) { return std::vector<Var>{neg(r.grad)}; });
}

Var add(const Var& a, double s) {
  check_float_var(a, "add_scalar", "a");
  return record("add_scalar", prim::binary_scalar(Binary::Add, a.data(), s), {a},
                [](const BackwardArgs& r) { return std::vector<Var>{r.grad}; });
}

Var mul(const Var& a, double s) {
  check_float_var(a, "mul_scalar", "a");
  return record("mul_scalar", prim::binary_scalar(Binary::Mul, a.data(), s), {a},
                [s](const BackwardArgs& r) { return std::vector<Var>{mul(r.grad, s)}; });
}

Var maximum(const Var& a, const Var& b) {
  check_pair(a, b, "maximum");
  return record("maximum", prim::binary(Binary::Maximum, a.data(), b.data()), {a, b},
                [](const BackwardArgs& r) {
                  Tensor a_wins = prim::binary(Binary::Ge, r.inputs[0].data(), r.inputs[1].data());
                  Var zero = scalar_like(0.0, r.grad);
                  return std::vector<Var>{
                      r.needs[0] ? sum_to(where(a_wins, r.grad, zero), r.inputs[0].shape()) : Var(),
                      r.needs[1] ? sum_to(where(a_wins, zero, r.grad), r.inputs[1].shape()) : Var()};
                });
}

Var minimum(const Var& a, const Var& b) {
  check_pair(a, b, "minimum");
  return record("minimum", prim::binary(Binary::Minimum, a.data(), b.data()), {a, b},
                [](const BackwardArgs& r) {
                  Tensor a_wins = prim::binary(Binary::Le, r.inputs[0].data(), r.inputs[1].data());
                  Var zero = scalar_like(0.0, r.grad);
                  return std::vector<Var>{
                      r.needs[0] ? sum_to(where(a_wins, r.grad, zero), r.inputs[0].shape()) : Var(),
                      r.needs[1] ? sum_to(where(a_wins, zero, r.grad), r.inputs[1].shape()) : Var()};
                });
}

Var operator+(const Var& a, const Var& b) { return add(a, b); }
Var operator-(const Var& a, const Var& b) { return sub(a, b); }
Var operator*(const Var& a, const Var& b) { return mul(a, b); }
Var operator/(const Var& a, const Var& b) { return div(a, b); }
Var operator-(const Var& x) { return neg(x); }
Var operator+(const Var& a, double s) { return add(a, s); }
Var operator+(double s, const Var& a) { return add(a, s); }
Var operator-(const Var& a, double s) { return add(a, -s); }
Var operator-(double s, const Var& a) { return add(neg(a), s); }
Var operator*(const Var& a, double s) { return mul(a, s); }
Var operator*(double s, const Var& a) { return mul(a, s); }
Var operator/(const Var& a, double s) { return mul(a, 1.0 / s); }
Var operator/(double s, const Var& a) { return mul(pow(a, -1.0), s); }

// --- element-wise functions ---------------------------------------------------------------------

Var exp(const Var& x) {
  return unary_op("exp", Unary::Exp, x, 0, [](const Var& g, const Var&, const Var& out) { return g * out; });
}
Var log(const Var& x) {
  return unary_op("log", Unary::Log, x, 0, [](const Var& g, const Var& x, const Var&) { return g / x; });
}
Var sqrt(const Var& x) {
  return unary_op("sqrt", Unary::Sqrt, x, 0,
                  [](const Var& g, const Var&, const Var& out) { return g / (out * 2.0); });
}
Var pow(const Var& x, double p) {
  return unary_op("pow", Unary::PowScalar, x, p, [p](const Var& g, const Var& x, const Var&) {
    if (p == 1.0) return g;
    return g * (pow(x, p - 1.0) * p);
  });
}
Var pow(const Var& x, const Var& e) {
  check_pair(x, e, "pow_tensor");
  return record("pow_tensor", prim::binary(Binary::Pow, x.data(), e.data()), {x, e},
                [](const BackwardArgs& r) {
                  const Var &b = r.inputs[0], &p = r.inputs[1];
                  return std::vector<Var>{
                      r.needs[0] ? sum_to(r.grad * p * pow(b, p - 1.0), b.shape()) : Var(),
                      r.needs[1] ? sum_to(r.grad * r.out * log(b), p.shape()) : Var()};
                });
}
Var square(const Var& x) {
  return unary_op("square", Unary::Square, x, 0,
                  [](const Var& g, const Var& x, const Var&) { return g * x * 2.0; });
}
Var abs(const Var& x) {
  return unary_op("abs", Unary::Abs, x, 0,
                  [](const Var& g, const Var& x, const Var&) { return g * unary_const(Unary::Sign, x); });
}
Var sin(const Var& x) {
  return unary_op("sin", Unary::Sin, x, 0, [](const Var& g, const Var& x, const Var&) { return g * cos(x); });
}
Var cos(const Var& x) {
  return unary_op("cos", Unary::Cos, x, 0,
                  [](const Var& g, const Var& x, const Var&) { return neg(g * sin(x)); });
}
Var relu(const Var& x) {
  return unary_op("relu", Unary::Relu, x, 0,
                  [](const Var& g, const Var& x, const Var&) { return g * unary_const(Unary::Step, x); });
}
Var leaky_relu(const Var& x, double slope) {
  return unary_op("leaky_relu", Unary::LeakyRelu, x, slope, [slope](const Var& g, const Var& x, const Var&) {
    return g * unary_const(Unary::LeakyReluGrad, x, slope);
  });
}
Var celu(const Var& x, double alpha) {
  BRENIER_CHECK(alpha > 0, "celu: argument 'alpha' must be > 0, got {}", alpha);
  return unary_op("celu", Unary::Celu, x, alpha, [alpha](const Var& g, const Var& x, const Var&) {
    if (!autograd::grad_enabled()) return g * unary_const(Unary::CeluGrad, x, alpha);
    return g * celu_grad(x, alpha);  // a differentiable op of its own (see celu_grad above)
  });
}
Var softplus(const Var& x) {
  return unary_op("softplus", Unary::Softplus, x, 0,
                  [](const Var& g, const Var& x, const Var&) { return g * sigmoid(x); });
}
Var sigmoid(const Var& x) {
  return unary_op("sigmoid", Unary::Sigmoid, x, 0,
                  [](const Var& g, const Var&, const Var& out) { return g * out * (1.0 - out); });
}
Var tanh(const Var& x) {
  return unary_op("tanh", Unary::Tanh, x, 0,
                  [](const Var& g, const Var&, const Var& out) { return g * (1.0 - square(out)); });
}
Var silu(const Var& x) {
  return unary_op("silu", Unary::Silu, x, 0, [](const Var& g, const Var& x, const Var&) {
    // First order: g * silu'(x) as one fused primitive.
    if (!autograd::grad_enabled()) return constant(prim::binary(Binary::SiluBackward, g.data(), x.data()));
    return g * silu_grad(x);
  });
}
Var gelu(const Var& x) {
  return unary_op("gelu", Unary::Gelu, x, 0, [](const Var& g, const Var& x, const Var&) {
    if (!autograd::grad_enabled()) return g * unary_const(Unary::GeluGrad, x);
    return g * gelu_grad(x);
  });
}

Var clamp(const Var& x, double lo, double hi) {
  check_float_var(x, "clamp", "x");
  BRENIER_CHECK(!(lo > hi), "clamp: argument 'lo' ({}) must not exceed 'hi' ({})", lo, hi);
  return record("clamp", prim::clamp(x.data(), lo, hi), {x}, [lo, hi](const BackwardArgs& r) {
    const Tensor& xd = r.inputs[0].data();
    Tensor inside = prim::binary(Binary::Mul, prim::binary_scalar(Binary::Ge, xd, lo),
                                 prim::binary_scalar(Binary::Le, xd, hi));
    return std::vector<Var>{r.grad * constant(inside)};
  });
}
Var clamp_min(const Var& x, double lo) { return clamp(x, lo, INFINITY); }

Var where(const Tensor& cond, const Var& a, const Var& b) {
  check_defined(cond, "where", "cond");
  check_pair(a, b, "where");
  return record("where", prim::where(cond, a.data(), b.data()), {a, b}, [cond](const BackwardArgs& r) {
    Var zero = scalar_like(0.0, r.grad);
    return std::vector<Var>{
        r.needs[0] ? sum_to(where(cond, r.grad, zero), r.inputs[0].shape()) : Var(),
        r.needs[1] ? sum_to(where(cond, zero, r.grad), r.inputs[1].shape()) : Var()};
  });
}

Var masked_select(const Var& x, const Tensor& mask) {
  check_var(x, "masked_select", "x");
  check_defined(mask, "masked_select", "mask");
  BRENIER_CHECK(mask.shape() == x.shape(), "masked_select: argument 'mask' must have shape {} like 'x', got {}",
                shape_str(x.shape()), shape_str(mask.shape()));
  return index_select(flatten(x), 0, prim::nonzero_flat(mask));
}

Var masked_fill(const Var& x, const Tensor& mask, double value) {
  check_float_var(x, "masked_fill", "x");
  return where(mask, scalar_like(value, x), x);
}

Var cast(const Var& x, DType dtype) {
  check_float_var(x, "cast", "x");
  BRENIER_CHECK(is_floating(dtype), "cast: argument 'dtype' must be f32 or f64 for a differentiable cast, got {}",
                dtype_name(dtype));
  if (dtype == x.dtype()) return x;
  return record("cast", prim::cast(x.data(), dtype), {x}, [](const BackwardArgs& r) {
    return std::vector<Var>{cast(r.grad, r.inputs[0].dtype())};
  });
}

}  // namespace brenier
