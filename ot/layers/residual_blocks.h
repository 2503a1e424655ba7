// ResidualBlocks: NCTM's backbone (arXiv 2505.15808 §3.4; spec/algorithms.md §5.2, "residual MLP blocks +
// LayerNorm, orthogonal init"): a stack of pre-norm residual blocks on a width-w stream,
//   h ← h + W₂ σ(W₁ LN(h) + b₁) + b₂,   W₁, W₂ ∈ R^{w×w} orthogonal (gain 1), b = 0, LN affine.
// ot/layers/residual_mlp.h (DIOTM's x + MLP(x) map) is not reused: it is one residual around a plain MLP,
// without LayerNorm or orthogonal init, and maps R^D → R^D rather than a hidden stream.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/nn/layer_norm.h"
#include "engine/nn/linear.h"
#include "engine/random/generator.h"

namespace brenier::ot {

class ResidualBlocks : public nn::Module {
 public:
  // `blocks` >= 0 blocks (0: the identity) of width >= 1; activation by name (nn::activation).
  ResidualBlocks(int64_t width, int64_t blocks, const std::string& activation, Generator& gen,
                 DType dtype = DType::F32);
  // h [n, width] → [n, width]. Throws naming the argument on another shape.
  Var forward(const Var& h) const;
  Var operator()(const Var& h) const { return forward(h); }
  int64_t width() const { return width_; }
  int64_t num_blocks() const { return static_cast<int64_t>(norms_.size()); }

 private:
  int64_t width_;
  nn::Activation act_;
  std::vector<std::shared_ptr<nn::LayerNorm>> norms_;
  std::vector<std::shared_ptr<nn::Linear>> first_, second_;
};

// A Linear layer with an orthogonal weight (gain 1) and zero bias: NCTM's init for every dense layer.
std::shared_ptr<nn::Linear> orthogonal_linear(int64_t in, int64_t out, Generator& gen, DType dtype);

}  // namespace brenier::ot
