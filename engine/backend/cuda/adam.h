// The fused Adam/AdamW update on CUDA: one kernel updates a parameter and its two moment buffers in
// place (kernels/adam.cu), with the arithmetic of engine/optim/adam.cpp, which today runs the update
// as about ten element-wise ops. In place is also what CUDA graph capture will need (the op-by-op
// update allocates new moment tensors every step). optim::Adam / AdamW call it for every parameter that
// lives on a CUDA device.
#pragma once
#include <cstdint>

#include "engine/tensor.h"

namespace brenier::cuda {

struct AdamStep {
  double lr, beta1, beta2, eps, weight_decay;
  bool decoupled;        // AdamW: p *= 1 - lr*wd; otherwise g += wd*p
  bool bias_correction;
  int64_t step;          // this parameter's step number, from 1
};

// param -= Adam update for `grad`; exp_avg and exp_avg_sq (zeros before the first step) are
// updated in place. All four: same shape, dtype (f32/f64) and CUDA device.
void adam_step(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, const AdamStep& s);

}  // namespace brenier::cuda
