// The fused Adam/AdamW update on the host: one pass over a parameter updates it and its two moment
// buffers in place, instead of the ~12 element-wise ops (each a full pass and a fresh tensor) that
// engine/optim/adam.cpp used to run. Same arithmetic, in the same order and precision, so the
// result is bit-identical to the op-by-op update; on HOTET's hypernetworks (~23M parameters at
// dim 64) those passes were a large share of the step. The CUDA twin is engine/backend/cuda/adam.h.
#pragma once
#include <cstdint>

#include "engine/backend/adam_step.h"
#include "engine/tensor.h"

namespace brenier::cpu {

using backend::AdamStep;

// param -= Adam update for `grad`; exp_avg and exp_avg_sq are updated in place, or created (as if
// they were zeros before the first step) when undefined. param, grad: same shape, f32 or f64, host.
void adam_step(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, const AdamStep& s);

}  // namespace brenier::cpu
