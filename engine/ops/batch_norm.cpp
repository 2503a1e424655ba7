// batch_norm: PyTorch's F.batch_norm over the channel dim of [N, C] or [N, C, d...] inputs.
// Training mode runs the fused primitives (prim::batch_norm_train / batch_norm_backward: two passes
// each way instead of ~15 for the op-by-op formula); under create_graph the backward is written in
// differentiable ops, so second-order gradients work. Eval mode is a plain affine map in ops. The
// running-statistics update is a plain in-place write of detached values, never recorded on the tape.
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
    const Tensor w = weight.defined() ? weight.data() : Tensor(), b = bias.defined() ? bias.data() : Tensor();
    std::vector<Tensor> out = prim::batch_norm_train(x.data(), w, b, eps);  // {y, mean, biased var}
    const Tensor batch_mean = out[1], batch_var = out[2];
    // Inputs that exist, and where each one's gradient comes from.
    std::vector<Var> inputs{x};
    const int weight_at = weight.defined() ? static_cast<int>(inputs.size()) : -1;
    if (weight.defined()) inputs.push_back(weight);
    const int bias_at = bias.defined() ? static_cast<int>(inputs.size()) : -1;
    if (bias.defined()) inputs.push_back(bias);
    const Shape per_stat = stat_shape;
    y = autograd::record("batch_norm", out[0], inputs, [=](const autograd::BackwardArgs& r) {
      std::vector<Var> grads(r.inputs.size());
      if (!autograd::grad_enabled()) {
        std::vector<Tensor> d = prim::batch_norm_backward(r.grad.data(), r.inputs[0].data(), batch_mean, batch_var,
                                                          weight_at >= 0 ? r.inputs[weight_at].data() : Tensor(), eps);
        grads[0] = constant(d[0]);
        if (weight_at >= 0) grads[weight_at] = constant(d[1]);
        if (bias_at >= 0) grads[bias_at] = constant(d[2]);
        return grads;
      }
      // create_graph: the same backward in differentiable ops of x (and the weight), so it can be
      // differentiated again; the statistics are recomputed from x for that.
      const Var& xv = r.inputs[0];
      const Var& g = r.grad;
      const Var centered = xv - mean(xv, reduced, true);
      const Var inv = 1.0 / sqrt(mean(square(centered), reduced, true) + eps);
      const Var xhat = centered * inv;
      const Var gw = weight_at >= 0 ? g * reshape(r.inputs[weight_at], per_stat) : g;
      grads[0] = inv * (gw - mean(gw, reduced, true) - xhat * mean(gw * xhat, reduced, true));
      if (weight_at >= 0) grads[weight_at] = reshape(sum(g * xhat, reduced, true), per_channel);
      if (bias_at >= 0) grads[bias_at] = reshape(sum(g, reduced, true), per_channel);
      return grads;
    });
    if (running_mean.defined()) {
      NoGradGuard no_grad;
      const double unbias = static_cast<double>(count) / static_cast<double>(count - 1);
      Tensor rm = running_mean, rv = running_var;  // handles: copy_from writes the callers' storage
      rm.copy_from((constant(rm) * (1.0 - momentum) + constant(batch_mean) * momentum).data());
      rv.copy_from((constant(rv) * (1.0 - momentum) + constant(batch_var) * (momentum * unbias)).data());
    }
    return y;
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
