// optim::clip_grad_norm (see clip_grad.h).
#include "engine/optim/clip_grad.h"

#include <cmath>

#include "engine/backend/primitives.h"

namespace brenier::optim {

double clip_grad_norm(const std::vector<Var>& params, double max_norm) {
  BRENIER_CHECK(std::isfinite(max_norm) && max_norm > 0, "clip_grad_norm: argument 'max_norm' must be finite and "
                                                         "> 0, got {}", max_norm);
  double sum_sq = 0;
  for (const Var& p : params) {
    BRENIER_CHECK(p.defined(), "clip_grad_norm: argument 'params' holds an undefined Var");
    const Tensor& g = p.grad();
    if (!g.defined() || g.numel() == 0) continue;
    Tensor g64 = g.to(DType::F64);
    sum_sq += prim::reduce(prim::Reduce::Sum, prim::binary(prim::Binary::Mul, g64, g64), {}, false).item();
  }
  const double norm = std::sqrt(sum_sq);
  if (!std::isfinite(norm) || norm <= max_norm) return norm;
  const double scale = max_norm / (norm + 1e-6);
  for (const Var& p : params) {
    const Tensor& g = p.grad();
    if (!g.defined()) continue;
    Var(p).set_grad(prim::binary_scalar(prim::Binary::Mul, g, scale));
  }
  return norm;
}

}  // namespace brenier::optim
