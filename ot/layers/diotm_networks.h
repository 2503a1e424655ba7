// The two network roles of DIOTM (ot/solvers/diotm.h), so the solver trains any architecture that
// fills them: the MLPs of the 2-D and Gaussian experiments (residual_mlp.h, time_potential.h) and the
// convolutional networks of image translation (conv_unet_map.h, conv_time_potential.h).
//
// Both work on flat points [n, D] (an image is its C·H·W pixels in row-major order), because the
// interpolants x_t, the transport cost and the HJB residual's ∇_z live in R^D whatever the network.
// Row i of an output must depend only on row i of the inputs (no batch statistics: no BatchNorm), so
// that ∇ of a batch sum is the per-point gradient the HJB residual needs.
#pragma once
#include "engine/autograd/var.h"
#include "engine/nn/module.h"

namespace brenier::ot {

// A boundary map T: R^D → R^D (x [n, D] → [n, D]).
class DiotmMap : public nn::Module {
 public:
  virtual Var forward(const Var& x) const = 0;
  Var operator()(const Var& x) const { return forward(x); }
};

// A time-conditioned potential Ṽ(t, x): t [n], x [n, D] → [n].
class DiotmPotential : public nn::Module {
 public:
  virtual Var forward(const Var& t, const Var& x) const = 0;
  Var operator()(const Var& t, const Var& x) const { return forward(t, x); }
};

}  // namespace brenier::ot
