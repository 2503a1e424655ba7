// ConditionalNetwork: encoder → conditioned layer → decoder (see conditional_network.h).
#include "ot/layers/conditional_network.h"

#include "engine/ops/ops.h"

namespace brenier::ot {

ConditionalNetwork::ConditionalNetwork(const ConditionalNetworkConfig& config, Generator& gen, DType dtype)
    : config_(config) {
  const char* op = "ConditionalNetwork";
  BRENIER_CHECK(config_.in_dim >= 1, "{}: config 'in_dim' must be >= 1, got {}", op, config_.in_dim);
  BRENIER_CHECK(config_.out_dim >= 1, "{}: config 'out_dim' must be >= 1, got {}", op, config_.out_dim);
  BRENIER_CHECK(config_.width >= 1, "{}: config 'width' must be >= 1, got {}", op, config_.width);
  BRENIER_CHECK(config_.encoder_blocks >= 0 && config_.decoder_blocks >= 0,
                "{}: config 'encoder_blocks' and 'decoder_blocks' must be >= 0, got {} and {}", op,
                config_.encoder_blocks, config_.decoder_blocks);
  input_ = register_module("input", orthogonal_linear(config_.in_dim, config_.width, gen, dtype));
  encoder_ = register_module("encoder", std::make_shared<ResidualBlocks>(config_.width, config_.encoder_blocks,
                                                                         config_.activation, gen, dtype));
  ConditionedLinearConfig cl;
  cl.in_features = cl.out_features = config_.width;
  cl.condition_dim = config_.condition_dim;
  cl.kind = config_.conditioning;
  cl.hyper_hidden = config_.hyper_hidden;
  conditioned_ = register_module("conditioned", std::make_shared<ConditionedLinear>(cl, gen, dtype));
  decoder_ = register_module("decoder", std::make_shared<ResidualBlocks>(config_.width, config_.decoder_blocks,
                                                                         config_.activation, gen, dtype));
  norm_ = register_module("norm", std::make_shared<nn::LayerNorm>(config_.width, 1e-5, true, dtype));
  output_ = register_module("output", orthogonal_linear(config_.width, config_.out_dim, gen, dtype));
}

Var ConditionalNetwork::forward(const Var& x, const Var& c) const {
  BRENIER_CHECK(x.defined() && x.dim() == 2 && x.size(1) == config_.in_dim,
                "ConditionalNetwork: argument 'x' must be [n, {}], got {}", config_.in_dim,
                x.defined() ? x.data().str() : "an undefined Var");
  const Var h = encoder_->forward(input_->forward(x));
  return output_->forward(norm_->forward(decoder_->forward(conditioned_->forward(h, c))));
}

}  // namespace brenier::ot
