// Meta OT's way of turning a point set into a context vector, as HOTET's paper compares against it
// (spec/algorithms.md §3.3; Amos et al., "Meta Optimal Transport", ICML 2023): the first n points of a
// sample, flattened in their given order, through an MLP
//
//   [B, n, D] → [B, n·D] → Linear(n·D → 2n·D) → CELU → Linear(2n·D → c)
//
// (the shape of HOTET's unused `embedding.MLP_X`, the closest code, §3.3). It needs a fixed number of
// points, ignores point weights and depends on the points' order: exactly the limitations HOTET's
// transformer (point_cloud_transformer.h) removes, which is why it is the baseline. Linear layers use
// torch's default init (U(±1/√fan_in)).
#pragma once
#include <cstdint>
#include <memory>

#include "engine/nn/mlp.h"
#include "engine/random/generator.h"

namespace brenier::ot {

class FlattenedSetEncoder : public nn::Module {
 public:
  // dim = D, points = n (≥ 1), out_dim = c (≥ 1).
  FlattenedSetEncoder(int64_t dim, int64_t points, int64_t out_dim, Generator& gen, DType dtype = DType::F32);

  // x [B, n', D] with n' ≥ n: the first n points of each set → [B, c]. Throws naming 'x' otherwise.
  Var forward(const Var& x) const;
  Var operator()(const Var& x) const { return forward(x); }

  int64_t points() const { return points_; }
  int64_t output_dim() const { return out_dim_; }

 private:
  int64_t dim_, points_, out_dim_;
  DType dtype_;
  std::shared_ptr<nn::MLP> net_;
};

}  // namespace brenier::ot
