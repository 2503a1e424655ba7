// optim::Adam / AdamW update (see adam.h), written with Var ops on constants (no tape under
// NoGradGuard). On a CUDA device the same arithmetic runs as one fused in-place kernel per parameter
// (engine/backend/cuda/adam.h) instead of about ten element-wise launches; in place is also what a
// captured CUDA graph needs (the moment buffers keep their addresses).
#include "engine/optim/adam.h"

#include <cmath>

#include "engine/ops/ops.h"
#ifdef BRENIER_WITH_CUDA
#include "engine/backend/cuda/adam.h"
#endif

namespace brenier::optim {

Adam::Adam(std::vector<Var> params, AdamOptions options) : Adam("Adam", std::move(params), options, false) {}

Adam::Adam(const char* name, std::vector<Var> params, AdamOptions o, bool decoupled_weight_decay)
    : Optimizer(name, std::move(params), o.lr, {"exp_avg", "exp_avg_sq"}),
      options_(o),
      decoupled_(decoupled_weight_decay) {
  BRENIER_CHECK(o.beta1 >= 0 && o.beta1 < 1, "{}: argument 'beta1' must be in [0, 1), got {}", name, o.beta1);
  BRENIER_CHECK(o.beta2 >= 0 && o.beta2 < 1, "{}: argument 'beta2' must be in [0, 1), got {}", name, o.beta2);
  BRENIER_CHECK(std::isfinite(o.eps) && o.eps >= 0, "{}: argument 'eps' must be finite and >= 0, got {}", name,
                o.eps);
  BRENIER_CHECK(std::isfinite(o.weight_decay) && o.weight_decay >= 0,
                "{}: argument 'weight_decay' must be finite and >= 0, got {}", name, o.weight_decay);
}

AdamW::AdamW(std::vector<Var> params, AdamWOptions o)
    : Adam("AdamW", std::move(params),
           AdamOptions{o.lr, o.beta1, o.beta2, o.eps, o.weight_decay, o.bias_correction}, true) {}

void Adam::update(size_t i, const Tensor& grad) {
  const AdamOptions& o = options_;
#ifdef BRENIER_WITH_CUDA
  if (params()[i].data().device().is_cuda()) {
    Tensor param = params()[i].data();  // shares the parameter's storage: updated in place
    Tensor& m_buf = buffer(i, "exp_avg");
    Tensor& v_buf = buffer(i, "exp_avg_sq");
    // Zeros before the first step; moments kept from steps on another device follow the parameter.
    for (Tensor* buf : {&m_buf, &v_buf}) {
      if (!buf->defined()) *buf = Tensor::zeros(param.shape(), param.dtype(), param.device());
      else if (buf->device() != param.device() || buf->dtype() != param.dtype())
        *buf = buf->to(param.device()).to(param.dtype());
    }
    cuda::adam_step(param, grad, m_buf, v_buf,
                    {.lr = lr(), .beta1 = o.beta1, .beta2 = o.beta2, .eps = o.eps, .weight_decay = o.weight_decay,
                     .decoupled = decoupled_, .bias_correction = o.bias_correction, .step = param_step(i)});
    return;
  }
#endif
  Var p(params()[i].data());
  Var g(grad);
  if (o.weight_decay != 0) {
    if (decoupled_) p = p * (1.0 - lr() * o.weight_decay);
    else g = g + o.weight_decay * p;
  }
  Tensor& m_buf = buffer(i, "exp_avg");
  Tensor& v_buf = buffer(i, "exp_avg_sq");
  Var m = (1.0 - o.beta1) * g;
  Var v = (1.0 - o.beta2) * square(g);
  if (m_buf.defined()) m = o.beta1 * Var(m_buf) + m;
  if (v_buf.defined()) v = o.beta2 * Var(v_buf) + v;
  m_buf = m.data();
  v_buf = v.data();
  double step_size = lr();
  Var denom = sqrt(v);
  if (o.bias_correction) {
    const auto t = static_cast<double>(param_step(i));
    step_size /= 1.0 - std::pow(o.beta1, t);
    denom = denom / std::sqrt(1.0 - std::pow(o.beta2, t));
  }
  assign(i, p - step_size * (m / (denom + o.eps)));
}

}  // namespace brenier::optim
