// The fused host Adam/AdamW step (see adam.h). Every constant is rounded to the parameter's type
// exactly where the op-by-op update rounded it (a scalar op casts its double operand to T), and the
// operations run in the same order, so the two agree bit for bit.
#include "engine/backend/cpu/adam.h"

#include <cmath>

#include "engine/backend/cpu/loops.h"
#include "engine/backend/primitives.h"

namespace brenier::cpu {
namespace {

template <class T>
void adam_loop(T* p, const T* g, T* m, T* v, bool first_m, bool first_v, int64_t n, const AdamStep& s) {
  const T keep_p = static_cast<T>(1.0 - s.lr * s.weight_decay), wd = static_cast<T>(s.weight_decay);
  const T b1 = static_cast<T>(s.beta1), b2 = static_cast<T>(s.beta2);
  const T one_minus_b1 = static_cast<T>(1.0 - s.beta1), one_minus_b2 = static_cast<T>(1.0 - s.beta2);
  double step_size = s.lr;
  double denom_scale = 1.0;  // denom / sqrt(1 - beta2^t) ran as denom * (1 / sqrt(...))
  if (s.bias_correction) {
    const auto t = static_cast<double>(s.step);
    step_size /= 1.0 - std::pow(s.beta1, t);
    denom_scale = 1.0 / std::sqrt(1.0 - std::pow(s.beta2, t));
  }
  const T step = static_cast<T>(step_size), scale = static_cast<T>(denom_scale), eps = static_cast<T>(s.eps);
  const bool decay = s.weight_decay != 0, decoupled = s.decoupled, correct = s.bias_correction;
  // Vectorized because this file is compiled with -fno-math-errno (meson.build beside it).
#pragma omp parallel for if (n > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) {
    T pi = p[i], gi = g[i];
    if (decay) {
      if (decoupled) pi = pi * keep_p;
      else gi = gi + pi * wd;
    }
    T mi = gi * one_minus_b1, vi = (gi * gi) * one_minus_b2;
    if (!first_m) mi = m[i] * b1 + mi;
    if (!first_v) vi = v[i] * b2 + vi;
    m[i] = mi;
    v[i] = vi;
    T denom = std::sqrt(vi);
    if (correct) denom = denom * scale;
    p[i] = pi - (mi / (denom + eps)) * step;
  }
}

}  // namespace

void adam_step(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, const AdamStep& s) {
  BRENIER_CHECK(param.device().is_cpu() && grad.device().is_cpu() && is_floating(param.dtype()) &&
                    grad.dtype() == param.dtype() && grad.shape() == param.shape(),
                "adam_step: arguments 'param' and 'grad' must be host f32/f64 tensors of one shape and dtype, "
                "got {} and {}",
                param.str(), grad.str());
  // Moments from another device or dtype (a parameter moved after some steps) follow the parameter.
  // An undefined moment is zeros before the first step: its decayed old value is left out.
  const bool first_m = !exp_avg.defined(), first_v = !exp_avg_sq.defined();
  for (Tensor* buf : {&exp_avg, &exp_avg_sq}) {
    if (!buf->defined()) *buf = Tensor::empty(param.shape(), param.dtype(), param.device());
    else if (buf->device() != param.device() || buf->dtype() != param.dtype())
      *buf = buf->to(param.device()).to(param.dtype());
  }
  dispatch_floating(param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    adam_loop(param.data<T>(), grad.data<T>(), exp_avg.data<T>(), exp_avg_sq.data<T>(), first_m, first_v,
              param.numel(), s);
  });
}

}  // namespace brenier::cpu
