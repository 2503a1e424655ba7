// optim::WarmupCosine (see schedule.h).
#include "engine/optim/schedule.h"

#include <cmath>
#include <numbers>

namespace brenier::optim {

WarmupCosine::WarmupCosine(double base_lr, int64_t warmup_steps, int64_t total_steps, double final_lr)
    : base_lr_(base_lr), final_lr_(final_lr), warmup_steps_(warmup_steps), total_steps_(total_steps) {
  BRENIER_CHECK(std::isfinite(base_lr) && base_lr >= 0, "WarmupCosine: argument 'base_lr' must be finite and >= 0, "
                                                        "got {}", base_lr);
  BRENIER_CHECK(std::isfinite(final_lr) && final_lr >= 0, "WarmupCosine: argument 'final_lr' must be finite and "
                                                          ">= 0, got {}", final_lr);
  BRENIER_CHECK(warmup_steps >= 0, "WarmupCosine: argument 'warmup_steps' must be >= 0, got {}", warmup_steps);
  BRENIER_CHECK(total_steps >= warmup_steps && total_steps > 0,
                "WarmupCosine: argument 'total_steps' must be > 0 and >= warmup_steps ({}), got {}", warmup_steps,
                total_steps);
}

double WarmupCosine::lr_at(int64_t step) const {
  BRENIER_CHECK(step >= 0, "WarmupCosine::lr_at: argument 'step' must be >= 0, got {}", step);
  if (step < warmup_steps_) return base_lr_ * static_cast<double>(step + 1) / static_cast<double>(warmup_steps_);
  if (step >= total_steps_) return final_lr_;
  const double progress =
      static_cast<double>(step - warmup_steps_) / static_cast<double>(total_steps_ - warmup_steps_);
  return final_lr_ + (base_lr_ - final_lr_) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
}

double WarmupCosine::apply(Optimizer& optimizer, int64_t step) const {
  const double lr = lr_at(step);
  optimizer.set_lr(lr);
  return lr;
}

}  // namespace brenier::optim
