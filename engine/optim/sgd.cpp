// optim::SGD update (see sgd.h), written with Var ops on constants (no tape under NoGradGuard).
#include "engine/optim/sgd.h"

#include <cmath>

#include "engine/ops/ops.h"

namespace brenier::optim {

SGD::SGD(std::vector<Var> params, SGDOptions options)
    : Optimizer("SGD", std::move(params), options.lr, {"momentum_buffer"}), options_(options) {
  BRENIER_CHECK(std::isfinite(options.momentum) && options.momentum >= 0,
                "SGD: argument 'momentum' must be finite and >= 0, got {}", options.momentum);
  BRENIER_CHECK(!options.nesterov || options.momentum > 0, "SGD: argument 'nesterov' needs momentum > 0, got {}",
                options.momentum);
  BRENIER_CHECK(std::isfinite(options.weight_decay) && options.weight_decay >= 0,
                "SGD: argument 'weight_decay' must be finite and >= 0, got {}", options.weight_decay);
}

void SGD::update(size_t i, const Tensor& grad) {
  const Var p(params()[i].data());
  Var g(grad);
  if (options_.weight_decay != 0) g = g + options_.weight_decay * p;
  if (options_.momentum != 0) {
    Tensor& buf = buffer(i, "momentum_buffer");
    Var b = buf.defined() ? options_.momentum * Var(buf) + g : g;
    buf = b.data().shares_storage(grad) ? b.data().clone() : b.data();  // never alias the caller's grad
    g = options_.nesterov ? g + options_.momentum * b : b;
  }
  assign(i, p - lr() * g);
}

}  // namespace brenier::optim
