// ResidualMlpMap construction and forward (see residual_mlp.h).
#include "ot/layers/residual_mlp.h"

namespace brenier::ot {

ResidualMlpMap::ResidualMlpMap(const ResidualMlpConfig& config, Generator& gen, DType dtype) : config_(config) {
  const char* op = "ResidualMlpMap";
  BRENIER_CHECK(config_.dim >= 1, "{}: config 'dim' must be >= 1, got {}", op, config_.dim);
  for (int64_t h : config_.hidden)
    BRENIER_CHECK(h >= 1, "{}: config 'hidden' sizes must be >= 1, got [{}]", op, fmt::join(config_.hidden, ","));
  std::vector<int64_t> sizes{config_.dim};
  sizes.insert(sizes.end(), config_.hidden.begin(), config_.hidden.end());
  sizes.push_back(config_.dim);
  mlp_ = register_module("mlp", std::make_shared<nn::MLP>(sizes, nn::activation(config_.activation),
                                                          /*activate_last=*/false, /*bias=*/true, gen, dtype));
  if (config_.zero_init_output) {
    const nn::Linear& last = mlp_->layer(mlp_->num_layers() - 1);
    Var w = last.weight, b = last.bias;
    w.data().fill_(0.0);
    b.data().fill_(0.0);
  }
}

Var ResidualMlpMap::forward(const Var& x) const {
  BRENIER_CHECK(x.defined() && x.dim() == 2 && x.size(1) == config_.dim,
                "ResidualMlpMap: argument 'x' must be [n, {}], got {}", config_.dim,
                x.defined() ? x.data().str() : "an undefined Var");
  return x + mlp_->forward(x);
}

}  // namespace brenier::ot
