// nn::LayerNorm: normalizes the last dim to zero mean / unit variance, then scales and shifts by
// learned weight (ones) and bias (zeros). forward() is brenier::layer_norm.
#pragma once
#include "engine/nn/module.h"
#include "engine/ops/ops.h"

namespace brenier::nn {

class LayerNorm : public Module {
 public:
  explicit LayerNorm(int64_t normalized_size, double eps = 1e-5, bool affine = true, DType dtype = DType::F32);
  Var forward(const Var& x) const;
  Var operator()(const Var& x) const { return forward(x); }

  double eps() const { return eps_; }
  Var weight;  // [normalized_size], or undefined without affine
  Var bias;

 private:
  int64_t size_;
  double eps_;
};

}  // namespace brenier::nn
