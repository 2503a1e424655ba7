// ResidualMlpMap: a transport map T(x) = x + MLP(x) on R^D, the boundary maps T→ and T← of DIOTM
// (spec/algorithms.md §4.3, ToyGenerator "x + MLP", here without the noise input z: DIOTM's maps are
// deterministic). The residual form starts near the identity; with `zero_init_output` (TOY3's option,
// §4.3) it starts exactly at the identity.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/nn/mlp.h"
#include "engine/random/generator.h"
#include "ot/layers/diotm_networks.h"

namespace brenier::ot {

struct ResidualMlpConfig {
  int64_t dim = 2;
  std::vector<int64_t> hidden{256, 256, 256};  // ToyGenerator: D → 256 ×3 → D (§4.3)
  std::string activation = "silu";            // §4.3
  bool zero_init_output = true;               // TOY3's zero-initialized last layer (§4.3): T starts as the identity
};

class ResidualMlpMap : public DiotmMap {
 public:
  // Throws naming the field unless dim >= 1, every hidden size >= 1 and the activation is known.
  ResidualMlpMap(const ResidualMlpConfig& config, Generator& gen, DType dtype = DType::F32);
  // x [n, D] -> x + MLP(x) [n, D].
  Var forward(const Var& x) const override;
  const ResidualMlpConfig& config() const { return config_; }

 private:
  ResidualMlpConfig config_;
  std::shared_ptr<nn::MLP> mlp_;
};

}  // namespace brenier::ot
