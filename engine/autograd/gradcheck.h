// Finite-difference checks of gradients, for the op table's tests and for users' own ops.
//
// gradcheck: L(x) = <f(x), v> with a fixed random v; compares dL/dx from grad() with central
// differences (L(x + h e_i) - L(x - h e_i)) / 2h for every element of every input.
// gradgradcheck: G(x) = sum_i <dL/dx_i, u_i> with fixed random u_i, where dL/dx_i comes from
// grad(..., {.create_graph = true}); compares dG/dx from the second backward with central
// differences of G. Inputs should be f64.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "engine/autograd/var.h"

namespace brenier::autograd {

using Function = std::function<Var(const std::vector<Var>&)>;

struct GradcheckOptions {
  double step = 1e-6;
  double atol = 1e-6;
  double rtol = 1e-5;
  uint64_t seed = 1;  // for the projections v and u
};

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0;
  std::string report;  // the first failing element, with both values, when !ok
};

GradcheckResult gradcheck(const Function& f, const std::vector<Tensor>& inputs,
                          GradcheckOptions options = {});
GradcheckResult gradgradcheck(const Function& f, const std::vector<Tensor>& inputs,
                              GradcheckOptions options = {});

}  // namespace brenier::autograd
