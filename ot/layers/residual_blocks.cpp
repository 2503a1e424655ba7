// ResidualBlocks: pre-norm residual MLP blocks with orthogonal init (see residual_blocks.h).
#include "ot/layers/residual_blocks.h"

#include "engine/nn/init.h"
#include "engine/ops/ops.h"

namespace brenier::ot {

std::shared_ptr<nn::Linear> orthogonal_linear(int64_t in, int64_t out, Generator& gen, DType dtype) {
  auto layer = std::make_shared<nn::Linear>(in, out, true, gen, dtype);
  nn::init::orthogonal_(layer->weight, gen);
  nn::init::zeros_(layer->bias);
  return layer;
}

ResidualBlocks::ResidualBlocks(int64_t width, int64_t blocks, const std::string& activation, Generator& gen,
                               DType dtype)
    : width_(width), act_(nn::activation(activation)) {
  BRENIER_CHECK(width >= 1, "ResidualBlocks: argument 'width' must be >= 1, got {}", width);
  BRENIER_CHECK(blocks >= 0, "ResidualBlocks: argument 'blocks' must be >= 0, got {}", blocks);
  for (int64_t i = 0; i < blocks; ++i) {
    norms_.push_back(register_module(fmt::format("block{}_norm", i), std::make_shared<nn::LayerNorm>(width, 1e-5,
                                                                                                      true, dtype)));
    first_.push_back(register_module(fmt::format("block{}_fc1", i), orthogonal_linear(width, width, gen, dtype)));
    second_.push_back(register_module(fmt::format("block{}_fc2", i), orthogonal_linear(width, width, gen, dtype)));
  }
}

Var ResidualBlocks::forward(const Var& h) const {
  BRENIER_CHECK(h.defined() && h.dim() == 2 && h.size(1) == width_,
                "ResidualBlocks: argument 'h' must be [n, {}], got {}", width_,
                h.defined() ? h.data().str() : "an undefined Var");
  Var out = h;
  for (size_t i = 0; i < norms_.size(); ++i)
    out = out + second_[i]->forward(act_(first_[i]->forward(norms_[i]->forward(out))));
  return out;
}

}  // namespace brenier::ot
