// nn::MLP construction and forward.
#include "engine/nn/mlp.h"

namespace brenier::nn {

MLP::MLP(const std::vector<int64_t>& sizes, Activation act, bool activate_last, bool bias, Generator& gen,
         DType dtype)
    : act_(std::move(act)), activate_last_(activate_last) {
  BRENIER_CHECK(sizes.size() >= 2, "MLP: argument 'sizes' must hold at least {{in, out}}, got [{}]",
                fmt::join(sizes, ", "));
  BRENIER_CHECK(static_cast<bool>(act_), "MLP: argument 'act' is an empty function");
  auto list = register_module("layers", std::make_shared<ModuleList>());
  for (size_t i = 0; i + 1 < sizes.size(); ++i)
    layers_.push_back(list->push_back(std::make_shared<Linear>(sizes[i], sizes[i + 1], bias, gen, dtype)));
}

Var MLP::forward(const Var& x) const {
  std::vector<Var> weights, biases;
  for (const auto& l : layers_) {
    weights.push_back(l->weight);
    biases.push_back(l->bias);
  }
  return mlp(x, weights, biases, act_, activate_last_);
}

}  // namespace brenier::nn
