// nn::BatchNorm: PyTorch's BatchNorm1d/2d/3d as one class. It normalizes each channel (dim 1) of
// x [N, C] or [N, C, d...] over all other dims, then scales by "weight" (ones) and shifts by
// "bias" (zeros). In training mode (Module::train(true), the default) it uses the batch
// statistics and updates the buffers "running_mean" (zeros), "running_var" (ones, from the
// unbiased batch variance) and "num_batches_tracked" (i64 scalar); in eval mode it normalizes with
// the running statistics. forward() is brenier::batch_norm (engine/ops/ops.h).
// Defaults are PyTorch's (eps 1e-5, momentum 0.1); OT-Net's height network H_Φ uses BN after each
// hidden Linear (spec/algorithms.md §6.3, Table A3).
#pragma once
#include <optional>

#include "engine/nn/module.h"
#include "engine/ops/ops.h"

namespace brenier::nn {

class BatchNorm : public Module {
 public:
  // momentum: the running statistics' update weight; std::nullopt uses the cumulative average
  // 1 / num_batches_tracked instead (PyTorch's momentum=None).
  explicit BatchNorm(int64_t num_features, double eps = 1e-5, std::optional<double> momentum = 0.1,
                     bool affine = true, DType dtype = DType::F32);
  // Updates the running statistics in training mode (a const call still changes the buffers).
  Var forward(const Var& x) const;
  Var operator()(const Var& x) const { return forward(x); }

  int64_t num_features() const { return num_features_; }
  double eps() const { return eps_; }
  std::optional<double> momentum() const { return momentum_; }

  Var weight;  // [C], or undefined without affine
  Var bias;    // [C], or undefined without affine
  Var running_mean;         // buffer [C]
  Var running_var;          // buffer [C]
  Var num_batches_tracked;  // buffer, i64 scalar

 private:
  int64_t num_features_;
  double eps_;
  std::optional<double> momentum_;
};

}  // namespace brenier::nn
