// batch_norm: PyTorch's F.batch_norm over the channel dim of [N, C] or [N, C, d...] inputs.
// Written with differentiable ops (mean, sub, mul, sqrt, div) rather than a fused primitive, so its
// first- and second-order gradients and its CUDA path come from those ops; the running-statistics
// update is a plain in-place write of detached values, never recorded on the tape.
#include <cmath>

#include "engine/ops/common.h"

namespace brenier {
using namespace ops_detail;

Var batch_norm(const Var& x, const Tensor& running_mean, const Tensor& running_var, const Var& weight,
               const Var& bias, bool training, double momentum, double eps) {
  check_float_var(x, "batch_norm", "x");
  BRENIER_CHECK(x.dim() >= 2, "batch_norm: argument 'x' must be [N, C] or [N, C, d...] (at least 2-D), got {}",
                x.data().str());
  const int64_t channels = x.size(1);
  BRENIER_CHECK(std::isfinite(eps) && eps > 0, "batch_norm: argument 'eps' must be > 0, got {}", eps);
  BRENIER_CHECK(std::isfinite(momentum) && momentum >= 0 && momentum <= 1,
                "batch_norm: argument 'momentum' must be in [0, 1], got {}", momentum);
  const Shape per_channel{channels};
  auto check_stat = [&](const Tensor& t, const char* name) {
    if (!t.defined()) return;
    BRENIER_CHECK(t.shape() == per_channel && t.dtype() == x.dtype() && t.device() == x.device(),
                  "batch_norm: argument '{}' must be {} {} on {} like the channels of 'x' ({}), got {}", name,
                  dtype_name(x.dtype()), shape_str(per_channel), x.device().str(), x.data().str(), t.str());
  };
  check_stat(running_mean, "running_mean");
  check_stat(running_var, "running_var");
  for (const auto& [p, name] : {std::pair{&weight, "weight"}, std::pair{&bias, "bias"}})
    if (p->defined()) check_stat(p->data(), name);
  BRENIER_CHECK(running_mean.defined() == running_var.defined(),
                "batch_norm: arguments 'running_mean' and 'running_var' must be given together, got {} and {}",
                running_mean.defined() ? running_mean.str() : "undefined",
                running_var.defined() ? running_var.str() : "undefined");

  // Statistics broadcast as [1, C, 1, ...] over every dim but the channel dim.
  Shape stat_shape(static_cast<size_t>(x.dim()), 1);
  stat_shape[1] = channels;
  Dims reduced{0};
  for (int64_t d = 2; d < x.dim(); ++d) reduced.push_back(d);
  const int64_t count = x.numel() / std::max<int64_t>(channels, 1);

  Var y;
  if (training) {
    BRENIER_CHECK(count > 1,
                  "batch_norm: argument 'x' ({}) must have more than 1 value per channel in training mode "
                  "(batch statistics of a single value have no variance); use a larger batch or eval mode",
                  x.data().str());
    Var batch_mean = mean(x, reduced, true);
    Var centered = x - batch_mean;
    Var batch_var = mean(square(centered), reduced, true);  // biased, as PyTorch normalizes
    y = centered / sqrt(batch_var + eps);
    if (running_mean.defined()) {
      NoGradGuard no_grad;
      const double unbias = static_cast<double>(count) / static_cast<double>(count - 1);
      Tensor rm = running_mean, rv = running_var;  // handles: copy_from writes the callers' storage
      rm.copy_from((constant(rm) * (1.0 - momentum) + reshape(batch_mean.detach(), per_channel) * momentum).data());
      rv.copy_from(
          (constant(rv) * (1.0 - momentum) + reshape(batch_var.detach(), per_channel) * (momentum * unbias)).data());
    }
  } else {
    BRENIER_CHECK(running_mean.defined(),
                  "batch_norm: arguments 'running_mean' and 'running_var' are required when training is false");
    y = (x - constant(running_mean.reshape(stat_shape))) / sqrt(constant(running_var.reshape(stat_shape)) + eps);
  }
  if (weight.defined()) y = y * reshape(weight, stat_shape);
  if (bias.defined()) y = y + reshape(bias, stat_shape);
  return y;
}

}  // namespace brenier
