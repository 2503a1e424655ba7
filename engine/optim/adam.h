// optim::Adam and optim::AdamW (Kingma & Ba 2015; Loshchilov & Hutter 2019), PyTorch's update
// rule. At a parameter's step t:
//   Adam:  g = grad + weight_decay * p          AdamW:  p = p * (1 - lr * weight_decay)
//   m = beta1 * m + (1 - beta1) * g,   v = beta2 * v + (1 - beta2) * g²     (m = v = 0 before t = 1)
//   bias_correction: p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
//   without it:      p = p - lr * m / (sqrt(v) + eps)
// Turning bias correction off reproduces the Adam of the OT-Net / pyOMT semi-discrete solver.
#pragma once
#include "engine/optim/optimizer.h"

namespace brenier::optim {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // L2: added to the gradient
  bool bias_correction = true;
};

// The same fields, with PyTorch's AdamW default decay.
struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;  // decoupled: shrinks the parameter, never enters the moments
  bool bias_correction = true;
};

class Adam : public Optimizer {
 public:
  explicit Adam(std::vector<Var> params, AdamOptions options = {});
  const AdamOptions& options() const { return options_; }

 protected:
  Adam(const char* name, std::vector<Var> params, AdamOptions options, bool decoupled_weight_decay);

 private:
  void update(size_t i, const Tensor& grad) override;
  AdamOptions options_;
  bool decoupled_;
};

class AdamW : public Adam {
 public:
  explicit AdamW(std::vector<Var> params, AdamWOptions options = {});
};

}  // namespace brenier::optim
