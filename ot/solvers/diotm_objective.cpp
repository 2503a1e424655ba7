// DIOTM's objective, HJB residual and regularizers (see diotm_objective.h).
#include "ot/solvers/diotm_objective.h"

#include <cmath>

#include "engine/ops/ops.h"

namespace brenier::ot {
namespace {

std::string shape_of(const Var& v) { return v.defined() ? v.data().str() : "an undefined Var"; }

void check_points_and_times(const Var& points, const Var& t, const char* op, const char* points_name,
                            const char* t_name) {
  BRENIER_CHECK(points.defined() && is_floating(points.dtype()) && points.dim() == 2,
                "{}: argument '{}' must be a floating [n, D] batch, got {}", op, points_name, shape_of(points));
  BRENIER_CHECK(t.defined() && t.dim() == 1 && t.size(0) == points.size(0),
                "{}: argument '{}' must be [n] with n = {} (one time per point of '{}'), got {}", op, t_name,
                points.size(0), points_name, shape_of(t));
}

void check_same_shape(const Var& a, const Var& b, const char* op, const char* a_name, const char* b_name) {
  BRENIER_CHECK(b.defined() && b.shape() == a.shape(), "{}: argument '{}' must have the shape of '{}' {}, got {}", op,
                b_name, a_name, a.data().str(), shape_of(b));
}

void check_alpha(double alpha, const char* op) {
  BRENIER_CHECK(std::isfinite(alpha) && alpha > 0, "{}: argument 'alpha' (the cost weight) must be finite and > 0, got {}",
                op, alpha);
}

Var column(const Var& t) { return unsqueeze(t, 1); }

Var call_potential(const TimePotentialFn& potential, const Var& t, const Var& z, const char* op) {
  Var v = potential(t, z);
  BRENIER_CHECK(v.defined() && v.dim() == 1 && v.size(0) == z.size(0),
                "{}: the potential must return [n] = [{}] values, got {}", op, z.size(0), shape_of(v));
  return v;
}

}  // namespace

Var forward_interpolant(const Var& x, const Var& mapped, const Var& t) {
  check_points_and_times(x, t, "forward_interpolant", "x", "t");
  check_same_shape(x, mapped, "forward_interpolant", "x", "mapped");
  const Var tc = column(t);
  return (1.0 - tc) * x + tc * mapped;
}

Var backward_interpolant(const Var& mapped_back, const Var& y, const Var& t) {
  check_points_and_times(y, t, "backward_interpolant", "y", "t");
  check_same_shape(y, mapped_back, "backward_interpolant", "y", "mapped_back");
  const Var tc = column(t);
  return (1.0 - tc) * mapped_back + tc * y;
}

Var diotm_objective(const TimePotentialFn& potential, const Var& x, const Var& forward_mapped, const Var& t_x,
                    const Var& y, const Var& backward_mapped, const Var& t_y, double alpha) {
  const char* op = "diotm_objective";
  BRENIER_CHECK(static_cast<bool>(potential), "{}: argument 'potential' is an empty function", op);
  check_alpha(alpha, op);
  check_points_and_times(x, t_x, op, "x", "t_x");
  check_points_and_times(y, t_y, op, "y", "t_y");
  check_same_shape(x, forward_mapped, op, "x", "forward_mapped");
  check_same_shape(y, backward_mapped, op, "y", "backward_mapped");
  BRENIER_CHECK(x.size(1) == y.size(1), "{}: arguments 'x' and 'y' must have the same dimension, got {} and {}", op,
                x.size(1), y.size(1));
  const Var cost_x = sum(square(x - forward_mapped), {1});  // ‖x − T→(x)‖² [n]
  const Var cost_y = sum(square(y - backward_mapped), {1});
  const Var x_t = forward_interpolant(x, forward_mapped, t_x);
  const Var y_t = backward_interpolant(backward_mapped, y, t_y);
  const Var x_side = mean(alpha * t_x * cost_x - call_potential(potential, t_x, x_t, op));
  const Var y_side = mean(alpha * (1.0 - t_y) * cost_y + call_potential(potential, t_y, y_t, op));
  return x_side + y_side;
}

Var hjb_residual(const TimePotentialFn& potential, const Tensor& t, const Tensor& z, double alpha) {
  const char* op = "hjb_residual";
  BRENIER_CHECK(static_cast<bool>(potential), "{}: argument 'potential' is an empty function", op);
  check_alpha(alpha, op);
  check_defined(t, op, "t");
  check_defined(z, op, "z");
  const Var t_leaf(t, /*requires_grad=*/true), z_leaf(z, /*requires_grad=*/true);
  check_points_and_times(z_leaf, t_leaf, op, "z", "t");
  const Var v = call_potential(potential, t_leaf, z_leaf, op);
  autograd::GradOptions options;
  options.create_graph = true;
  options.allow_unused = true;  // a potential that ignores t (or z) has a zero derivative there
  const std::vector<Var> d = grad({sum(v)}, {t_leaf, z_leaf}, {}, options);
  Var kinetic = d[1].defined() ? sum(square(d[1]), {1}) * (1.0 / (4.0 * alpha))
                               : Var(Tensor::zeros(t.shape(), t.dtype(), t.device()));
  return d[0].defined() ? d[0] + kinetic : kinetic;
}

DiotmRegularizer parse_diotm_regularizer(std::string_view name) {
  if (name == "hjb") return DiotmRegularizer::Hjb;
  if (name == "r1") return DiotmRegularizer::R1;
  if (name == "none") return DiotmRegularizer::None;
  throw Error(fmt::format("parse_diotm_regularizer: argument 'name' must be one of hjb, r1, none, got '{}'", name));
}

const char* name(DiotmRegularizer regularizer) {
  switch (regularizer) {
    case DiotmRegularizer::Hjb: return "hjb";
    case DiotmRegularizer::R1: return "r1";
    case DiotmRegularizer::None: return "none";
  }
  return "unknown";
}

HjbNorm parse_hjb_norm(std::string_view name) {
  if (name == "abs") return HjbNorm::Absolute;
  if (name == "squared") return HjbNorm::Squared;
  throw Error(fmt::format("parse_hjb_norm: argument 'name' must be one of abs, squared, got '{}'", name));
}

const char* name(HjbNorm norm) { return norm == HjbNorm::Absolute ? "abs" : "squared"; }

Var diotm_regularizer(DiotmRegularizer regularizer, HjbNorm norm, const TimePotentialFn& potential, const Tensor& t,
                      const Tensor& z, double alpha) {
  switch (regularizer) {
    case DiotmRegularizer::None: return Var();
    case DiotmRegularizer::Hjb: {
      const Var r = hjb_residual(potential, t, z, alpha);
      return norm == HjbNorm::Absolute ? mean(abs(r)) : mean(square(r));
    }
    case DiotmRegularizer::R1: {
      const char* op = "diotm_regularizer (r1)";
      BRENIER_CHECK(static_cast<bool>(potential), "{}: argument 'potential' is an empty function", op);
      check_defined(t, op, "t");
      check_defined(z, op, "z");
      const Var z_leaf(z, /*requires_grad=*/true);
      check_points_and_times(z_leaf, Var(t), op, "z", "t");
      autograd::GradOptions options;
      options.create_graph = true;
      options.allow_unused = true;
      const Var g = grad({sum(call_potential(potential, Var(t), z_leaf, op))}, {z_leaf}, {}, options)[0];
      if (!g.defined()) return Var(Tensor::scalar(0.0, z.dtype(), z.device()));
      return 0.5 * mean(sum(square(g), {1}));
    }
  }
  return Var();
}

}  // namespace brenier::ot
