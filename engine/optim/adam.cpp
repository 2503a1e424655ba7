// optim::Adam / AdamW update (see adam.h). Each parameter is updated in place by one fused pass:
// on the host engine/backend/cpu/adam.h (it replaced ~12 element-wise ops, each a full pass and a
// fresh tensor, with bit-identical results), on a CUDA device one kernel (engine/backend/cuda/adam.h);
// in place is also what a captured CUDA graph needs (the moment buffers keep their addresses).
#include "engine/optim/adam.h"
#include "engine/profiler.h"

#include <cmath>

#include "engine/backend/cpu/adam.h"
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
  const profiler::OpScope profile_scope("adam_step", grad);
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
  Tensor param = params()[i].data();  // shares the parameter's storage: updated in place
  cpu::adam_step(param, grad, buffer(i, "exp_avg"), buffer(i, "exp_avg_sq"),
                 {.lr = lr(), .beta1 = o.beta1, .beta2 = o.beta2, .eps = o.eps, .weight_decay = o.weight_decay,
                  .decoupled = decoupled_, .bias_correction = o.bias_correction, .step = param_step(i)});
}

}  // namespace brenier::optim
