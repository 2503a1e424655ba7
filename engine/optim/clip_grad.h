// optim::clip_grad_norm: rescales the gradients of `params` so their joint L2 norm is at most
// `max_norm` (PyTorch's clip_grad_norm_: factor max_norm / (norm + 1e-6) when norm > max_norm).
// Each grad is replaced by a scaled copy (set_grad), never modified in place, since a grad
// tensor may be shared. Parameters with an undefined grad are ignored. Returns the norm before
// clipping, computed in f64; when it is not finite the grads are left unchanged.
#pragma once
#include <vector>

#include "engine/autograd/var.h"

namespace brenier::optim {

double clip_grad_norm(const std::vector<Var>& params, double max_norm);

}  // namespace brenier::optim
