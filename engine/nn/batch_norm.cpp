// nn::BatchNorm construction and forward (mode switch and running-statistics bookkeeping).
#include "engine/nn/batch_norm.h"

#include <cmath>

#include "engine/backend/primitives.h"

namespace brenier::nn {

BatchNorm::BatchNorm(int64_t num_features, double eps, std::optional<double> momentum, bool affine, DType dtype)
    : num_features_(num_features), eps_(eps), momentum_(momentum) {
  BRENIER_CHECK(num_features > 0, "BatchNorm: argument 'num_features' must be > 0, got {}", num_features);
  BRENIER_CHECK(std::isfinite(eps) && eps > 0, "BatchNorm: argument 'eps' must be > 0, got {}", eps);
  BRENIER_CHECK(!momentum || (std::isfinite(*momentum) && *momentum >= 0 && *momentum <= 1),
                "BatchNorm: argument 'momentum' must be in [0, 1] or std::nullopt, got {}", momentum.value_or(0));
  BRENIER_CHECK(is_floating(dtype), "BatchNorm: argument 'dtype' must be f32 or f64, got {}", dtype_name(dtype));
  // Registration order gives PyTorch's state_dict names and order.
  if (affine) {
    weight = register_parameter("weight", Var(Tensor::ones({num_features}, dtype)));
    bias = register_parameter("bias", Var(Tensor::zeros({num_features}, dtype)));
  }
  running_mean = register_buffer("running_mean", Tensor::zeros({num_features}, dtype));
  running_var = register_buffer("running_var", Tensor::ones({num_features}, dtype));
  num_batches_tracked = register_buffer("num_batches_tracked", Tensor::scalar(0, DType::I64));
}

Var BatchNorm::forward(const Var& x) const {
  BRENIER_CHECK(x.defined() && x.dim() >= 2 && x.size(1) == num_features_,
                "BatchNorm: argument 'x' must be [N, {}] or [N, {}, d...], got {}", num_features_, num_features_,
                x.defined() ? x.data().str() : "an undefined Var");
  BRENIER_CHECK(x.dtype() == running_mean.dtype() && x.device() == running_mean.device(),
                "BatchNorm: argument 'x' must be {} on {} like the module (convert with Module::to), got {}",
                dtype_name(running_mean.dtype()), running_mean.device().str(), x.data().str());
  double factor = 0.0;
  if (is_training()) {
    // The counter lives on the module's device and is incremented there; only the cumulative
    // average (momentum nullopt) reads it back, a one-scalar copy (a sync on CUDA) per step.
    Var counter = num_batches_tracked;  // a handle: assigning its data updates the buffer
    counter.data() = prim::binary_scalar(prim::Binary::Add, counter.data(), 1.0);
    factor = momentum_ ? *momentum_ : 1.0 / counter.data().item();
  }
  return batch_norm(x, running_mean.data(), running_var.data(), weight, bias, is_training(), factor, eps_);
}

}  // namespace brenier::nn
