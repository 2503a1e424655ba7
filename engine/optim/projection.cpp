// clamp_min_projection: in-place clamp of parameter data from below.
#include "engine/optim/projection.h"

#include <cmath>
#include <limits>

#include "engine/backend/primitives.h"

namespace brenier::optim {

void ClampMin::operator()(Tensor& t) const {
  t.copy_from(prim::clamp(t, lo, std::numeric_limits<double>::infinity()));
}

void ClampMin::operator()(std::vector<Var>& params) const {
  for (Var& p : params) (*this)(p.data());
}

ClampMin clamp_min_projection(double lo) {
  BRENIER_CHECK(!std::isnan(lo), "clamp_min_projection: argument 'lo' must not be NaN");
  return ClampMin{lo};
}

}  // namespace brenier::optim
