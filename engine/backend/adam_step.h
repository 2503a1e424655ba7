// The hyper-parameters of one fused Adam/AdamW update of one parameter, shared by the host pass
// (engine/backend/cpu/adam.h) and the CUDA kernel (engine/backend/cuda/adam.h), so both read the
// same fields that engine/optim/adam.cpp fills in.
#pragma once
#include <cstdint>

namespace brenier::backend {

struct AdamStep {
  double lr, beta1, beta2, eps, weight_decay;
  bool decoupled;        // AdamW: p *= 1 - lr*wd; otherwise g += wd*p
  bool bias_correction;
  int64_t step;          // this parameter's step number, from 1
};

}  // namespace brenier::backend
