// Gradients that stop training on a NaN or Inf (see checked_gradients.h).
#include "ot/solvers/checked_gradients.h"

#include <cmath>

#include "engine/backend/primitives.h"
#include "engine/error.h"

namespace brenier::ot {

double joint_gradient_norm(const std::vector<Var>& grads) {
  NoGradGuard no_grad;
  double sum_sq = 0;
  for (const Var& g : grads) {
    if (!g.defined()) continue;
    Tensor g64 = g.data().to(DType::F64);
    sum_sq += prim::reduce(prim::Reduce::Sum, prim::binary(prim::Binary::Mul, g64, g64), {}, false).item();
  }
  return std::sqrt(sum_sq);
}

double set_checked_gradients(const Var& loss, const std::vector<Var>& params, const std::string& who,
                             int64_t step, int64_t steps_done, const char* what) {
  const double value = loss.item();
  BRENIER_CHECK(std::isfinite(value),
                "{}: training diverged at step {}: the {} is {}; the networks are left as after step {}", who, step,
                what, value, steps_done);
  autograd::GradOptions options;
  options.allow_unused = true;
  // grad() w.r.t. the parameters only: backward() would also differentiate w.r.t. the input leaves the
  // maps create, which nothing uses.
  std::vector<Var> grads = grad({loss}, params, {}, options);
  const double norm = joint_gradient_norm(grads);
  BRENIER_CHECK(std::isfinite(norm),
                "{}: training diverged at step {}: the gradient norm of the {} is {} (loss {}); the networks are "
                "left as after step {}",
                who, step, what, norm, value, steps_done);
  for (size_t i = 0; i < params.size(); ++i)
    if (grads[i].defined()) Var(params[i]).set_grad(grads[i].data());
  return norm;
}

void check_w2_estimate(double estimate, double second_moments, const std::string& who, int64_t step,
                       int64_t steps_done) {
  const double bound = 2.0 * second_moments;
  BRENIER_CHECK(std::isfinite(estimate) && std::abs(estimate) <= kRunawayFactor * (bound + 1.0),
                "{}: training diverged at step {}: the W2² estimate {} is beyond {:g} × any coupling's cost ({:.4g}: "
                "the potentials ran away from their conjugates); the networks are left as after step {}",
                who, step, estimate, kRunawayFactor, bound, steps_done);
}

}  // namespace brenier::ot
