// nn::Linear: y = x Wᵀ + b with W [out, in] (PyTorch layout) and PyTorch's default init,
// W and b ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform_ with a = sqrt(5)).
#pragma once
#include "engine/nn/functional.h"
#include "engine/nn/module.h"
#include "engine/random/generator.h"

namespace brenier::nn {

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true,
         Generator& gen = default_generator(), DType dtype = DType::F32);
  Var forward(const Var& x) const { return linear(x, weight, bias); }
  Var operator()(const Var& x) const { return forward(x); }

  int64_t in_features() const { return weight.size(1); }
  int64_t out_features() const { return weight.size(0); }

  Var weight;  // [out, in]
  Var bias;    // [out], or undefined without bias
};

}  // namespace brenier::nn
