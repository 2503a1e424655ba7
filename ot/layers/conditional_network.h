// ConditionalNetwork: NCTM's backbone for the map T(x, z, c) and the critic f(y, c)
// (arXiv 2505.15808 §3.4; spec/algorithms.md §5.2):
//
//   input [n, in] → Linear (orthogonal) → encoder: ResidualBlocks → h_L
//        → ConditionedLinear(h_L, c)  (the hypernetwork-generated "final encoder layer", or concat / FiLM)
//        → decoder: ResidualBlocks → LayerNorm → Linear (orthogonal) → [n, out]
//
// The condition vector c comes from a ConditionEncoder the caller owns, so T and f can have separate
// encoders (the paper's choice) or share one. Decoder depth 8 for T and 3 for f (§5.2).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "engine/nn/layer_norm.h"
#include "engine/nn/linear.h"
#include "ot/layers/conditioning.h"
#include "ot/layers/residual_blocks.h"

namespace brenier::ot {

struct ConditionalNetworkConfig {
  int64_t in_dim = 2;
  int64_t out_dim = 2;
  int64_t width = 64;           // hidden stream (not given by the paper; ours: keeps the hypernet output 4160 wide)
  int64_t encoder_blocks = 2;   // not given by the paper; ours
  int64_t decoder_blocks = 8;   // T: 8, f: 3 (§5.2)
  std::string activation = "silu";
  int64_t condition_dim = 64;   // = the encoder's out_dim
  ConditioningKind conditioning = ConditioningKind::Hypernetwork;  // §5.2
  std::vector<int64_t> hyper_hidden{128};                         // §5.2
};

class ConditionalNetwork : public nn::Module {
 public:
  ConditionalNetwork(const ConditionalNetworkConfig& config, Generator& gen, DType dtype = DType::F32);
  // x [n, in_dim], c [n, condition_dim] → [n, out_dim]. Throws naming the argument on a shape mismatch.
  Var forward(const Var& x, const Var& c) const;
  Var operator()(const Var& x, const Var& c) const { return forward(x, c); }
  const ConditionalNetworkConfig& config() const { return config_; }
  const ConditionedLinear& conditioned_layer() const { return *conditioned_; }

 private:
  ConditionalNetworkConfig config_;
  std::shared_ptr<nn::Linear> input_, output_;
  std::shared_ptr<ResidualBlocks> encoder_, decoder_;
  std::shared_ptr<ConditionedLinear> conditioned_;
  std::shared_ptr<nn::LayerNorm> norm_;
};

}  // namespace brenier::ot
