// TimePotential: DIOTM's time-conditioned potential Ṽ(t, x) (spec/algorithms.md §4.3): an MLP with SiLU
// on [x, emb(t)], emb the sinusoidal time embedding (ot/layers/time_embedding.h), D + E → 128 ×3 → 1
// (ToyDiscriminator's widths; TOY3's 128-d embedding). Smooth (SiLU), so the HJB residual
// ∂_t Ṽ + ‖∇_x Ṽ‖²/(4α) and its parameter gradients exist everywhere.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/nn/mlp.h"
#include "engine/random/generator.h"
#include "ot/layers/diotm_networks.h"
#include "ot/layers/time_embedding.h"

namespace brenier::ot {

struct TimePotentialConfig {
  int64_t dim = 2;
  std::vector<int64_t> hidden{128, 128, 128};  // ToyDiscriminator: D+1 → 128 ×3 → 1 (§4.3)
  std::string activation = "silu";            // §4.3
  TimeEmbeddingConfig time;                   // 128-d sinusoidal embedding (TOY3, §4.3)
};

class TimePotential : public DiotmPotential {
 public:
  // Throws naming the field unless dim >= 1, hidden sizes >= 1, the activation and embedding are valid.
  TimePotential(const TimePotentialConfig& config, Generator& gen, DType dtype = DType::F32);
  // t [n], x [n, D] -> Ṽ(t_i, x_i) [n].
  Var forward(const Var& t, const Var& x) const override;
  const TimePotentialConfig& config() const { return config_; }

 private:
  TimePotentialConfig config_;
  std::shared_ptr<nn::MLP> mlp_;
};

}  // namespace brenier::ot
