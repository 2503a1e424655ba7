// The fused Adam/AdamW update on CUDA (see adam.h): checks the tensors, works out the step's
// scalars on the host, launches kernels/adam.cu.
#include "engine/backend/cuda/adam.h"

#include <cmath>

#include "engine/backend/cuda/context.h"
#include "kernels/launch.cuh"

namespace brenier::cuda {

void adam_step(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, const AdamStep& s) {
  const char* op = "cuda::adam_step";
  check_defined(param, op, "param");
  BRENIER_CHECK(param.device().is_cuda() && is_floating(param.dtype()),
                "{}: argument 'param' must be an f32 or f64 CUDA tensor, got {}", op, param.str());
  for (const auto& [name, t] : {std::pair<const char*, const Tensor*>{"grad", &grad},
                                {"exp_avg", &exp_avg}, {"exp_avg_sq", &exp_avg_sq}}) {
    check_defined(*t, op, name);
    BRENIER_CHECK(t->shape() == param.shape() && t->dtype() == param.dtype() && t->device() == param.device(),
                  "{}: argument '{}' must match 'param' ({}), got {}", op, name, param.str(), t->str());
  }
  BRENIER_CHECK(s.step >= 1, "{}: argument 'step' must be >= 1, got {}", op, s.step);
  const double t = static_cast<double>(s.step);
  kernels::AdamScalars a{};
  a.beta1 = s.beta1;
  a.beta2 = s.beta2;
  a.eps = s.eps;
  a.weight_decay = s.weight_decay;
  a.lr = s.lr;
  a.decoupled = s.decoupled;
  a.bias_correction = s.bias_correction;
  a.step_size = s.bias_correction ? s.lr / (1.0 - std::pow(s.beta1, t)) : s.lr;
  a.bc2 = s.bias_correction ? std::sqrt(1.0 - std::pow(s.beta2, t)) : 1.0;
  kernels::adam_step(param.dtype(), param.raw_data(), grad.raw_data(), exp_avg.raw_data(), exp_avg_sq.raw_data(),
                     param.numel(), a, stream_of(param.device()));
}

}  // namespace brenier::cuda
