// optim::SGD: stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay,
// PyTorch's update rule (no dampening):
//   g = grad + weight_decay * p
//   b = g on the first step, else momentum * b + g          (when momentum > 0)
//   g = nesterov ? g + momentum * b : b
//   p = p - lr * g
#pragma once
#include "engine/optim/optimizer.h"

namespace brenier::optim {

struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0.0;
  bool nesterov = false;  // needs momentum > 0
  double weight_decay = 0.0;
};

class SGD : public Optimizer {
 public:
  explicit SGD(std::vector<Var> params, SGDOptions options = {});
  const SGDOptions& options() const { return options_; }

 private:
  void update(size_t i, const Tensor& grad) override;
  SGDOptions options_;
};

}  // namespace brenier::optim
