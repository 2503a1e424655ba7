// nn::ModuleList: child modules named "0", "1", ... in order, so that an MLP's parameters read
// "layers.0.weight", "layers.1.weight" as in PyTorch checkpoints.
#pragma once
#include <string>

#include "engine/nn/module.h"

namespace brenier::nn {

class ModuleList : public Module {
 public:
  template <class M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> module) {
    return register_module(std::to_string(children().size()), std::move(module));
  }
  size_t size() const { return children().size(); }
  const std::shared_ptr<Module>& operator[](size_t i) const { return children().at(i).second; }
};

}  // namespace brenier::nn
