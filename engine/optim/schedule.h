// optim::WarmupCosine: a learning-rate schedule that ramps linearly up to base_lr over
// warmup_steps, then decays along a half cosine to final_lr at total_steps, and stays there:
//   step < warmup:          lr = base_lr * (step + 1) / warmup_steps
//   warmup <= step < total: lr = final + (base - final) * (1 + cos(pi * (step - warmup) / (total - warmup))) / 2
//   step >= total:          lr = final_lr
// (The ramp starts at base_lr / warmup_steps, not 0, so no step is wasted.)
#pragma once
#include <cstdint>

#include "engine/optim/optimizer.h"

namespace brenier::optim {

class WarmupCosine {
 public:
  WarmupCosine(double base_lr, int64_t warmup_steps, int64_t total_steps, double final_lr = 0.0);
  double lr_at(int64_t step) const;
  // Sets `optimizer`'s lr to lr_at(step) and returns it.
  double apply(Optimizer& optimizer, int64_t step) const;

 private:
  double base_lr_, final_lr_;
  int64_t warmup_steps_, total_steps_;
};

}  // namespace brenier::optim
