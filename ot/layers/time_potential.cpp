// TimePotential construction and forward (see time_potential.h).
#include "ot/layers/time_potential.h"

namespace brenier::ot {

TimePotential::TimePotential(const TimePotentialConfig& config, Generator& gen, DType dtype) : config_(config) {
  const char* op = "TimePotential";
  BRENIER_CHECK(config_.dim >= 1, "{}: config 'dim' must be >= 1, got {}", op, config_.dim);
  for (int64_t h : config_.hidden)
    BRENIER_CHECK(h >= 1, "{}: config 'hidden' sizes must be >= 1, got [{}]", op, fmt::join(config_.hidden, ","));
  BRENIER_CHECK(config_.time.dim >= 2 && config_.time.dim % 2 == 0,
                "{}: config 'time.dim' (the time embedding's width) must be even and >= 2, got {}", op,
                config_.time.dim);
  std::vector<int64_t> sizes{config_.dim + config_.time.dim};
  sizes.insert(sizes.end(), config_.hidden.begin(), config_.hidden.end());
  sizes.push_back(1);
  mlp_ = register_module("mlp", std::make_shared<nn::MLP>(sizes, nn::activation(config_.activation),
                                                          /*activate_last=*/false, /*bias=*/true, gen, dtype));
}

Var TimePotential::forward(const Var& t, const Var& x) const {
  const char* op = "TimePotential";
  BRENIER_CHECK(x.defined() && x.dim() == 2 && x.size(1) == config_.dim, "{}: argument 'x' must be [n, {}], got {}",
                op, config_.dim, x.defined() ? x.data().str() : "an undefined Var");
  BRENIER_CHECK(t.defined() && t.dim() == 1 && t.size(0) == x.size(0),
                "{}: argument 't' must be [n] with n = {} (one time per point), got {}", op, x.size(0),
                t.defined() ? t.data().str() : "an undefined Var");
  const Var h = concat({x, sinusoidal_time_embedding(t, config_.time)}, 1);
  return reshape(mlp_->forward(h), {x.size(0)});
}

}  // namespace brenier::ot
