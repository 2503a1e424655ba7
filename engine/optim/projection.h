// Ready-made projections for Optimizer::add_projection, run after every step. clamp_min_projection
// keeps weights >= lo (e.g. the non-negative z-weights of an input convex neural network). It works
// both for all parameters, opt.add_projection(clamp_min_projection(0.0)), and for one,
// opt.add_projection(w, clamp_min_projection(0.0)).
#pragma once
#include "engine/optim/optimizer.h"

namespace brenier::optim {

struct ClampMin {
  double lo;
  void operator()(Tensor& t) const;
  void operator()(std::vector<Var>& params) const;
};
ClampMin clamp_min_projection(double lo);

}  // namespace brenier::optim
