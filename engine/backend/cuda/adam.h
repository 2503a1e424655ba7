// The fused Adam/AdamW update on CUDA: one kernel updates a parameter and its two moment buffers in
// place (kernels/adam.cu), with the same arithmetic as the host pass (engine/backend/cpu/adam.h). In
// place is also what CUDA graph capture will need (the moment buffers keep their addresses).
// optim::Adam / AdamW call it for every parameter that lives on a CUDA device.
#pragma once
#include <cstdint>

#include "engine/backend/adam_step.h"
#include "engine/tensor.h"

namespace brenier::cuda {

using backend::AdamStep;

// param -= Adam update for `grad`; exp_avg and exp_avg_sq (zeros before the first step) are
// updated in place. All four: same shape, dtype (f32/f64) and CUDA device.
void adam_step(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, const AdamStep& s);

}  // namespace brenier::cuda
