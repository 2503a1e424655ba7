// nn::MLP: Linear layers of the given sizes with an activation between them, parameters named
// "layers.<i>.weight" / "layers.<i>.bias". forward() is the functional nn::mlp on those parameters.
#pragma once
#include <memory>
#include <vector>

#include "engine/nn/functional.h"
#include "engine/nn/linear.h"
#include "engine/nn/module_list.h"

namespace brenier::nn {

class MLP : public Module {
 public:
  // sizes = {in, hidden..., out} (at least two entries). With `activate_last`, the activation is
  // applied after the last layer too.
  MLP(const std::vector<int64_t>& sizes, Activation act = activation("relu"), bool activate_last = false,
      bool bias = true, Generator& gen = default_generator(), DType dtype = DType::F32);
  Var forward(const Var& x) const;
  Var operator()(const Var& x) const { return forward(x); }

  size_t num_layers() const { return layers_.size(); }
  const Linear& layer(size_t i) const { return *layers_.at(i); }

 private:
  Activation act_;
  bool activate_last_;
  std::vector<std::shared_ptr<Linear>> layers_;
};

}  // namespace brenier::nn
