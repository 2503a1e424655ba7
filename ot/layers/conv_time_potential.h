// ConvTimePotential: DIOTM's time-conditioned potential Ṽ(t, x) for images (issue 7's `translate`),
// a small convolutional critic of the DDGAN-discriminator kind the paper uses (spec/algorithms.md §4.3;
// widths ours, for a CPU): SiLU throughout (smooth, so the HJB residual's second derivatives exist),
// no normalization (rows stay independent, diotm_networks.h), time entering after the convolutions:
//
//   h = silu(conv3(C → b)); h = silu(conv4/2(b → 2b)); h = silu(conv4/2(2b → 4b))   (H/4 × W/4)
//   Ṽ = MLP([flatten(h), emb(t)] → hidden → 1),  emb the sinusoidal time embedding (time_embedding.h)
#pragma once
#include <cstdint>
#include <memory>

#include "engine/nn/conv.h"
#include "engine/nn/mlp.h"
#include "engine/random/generator.h"
#include "ot/layers/conv_unet_map.h"
#include "ot/layers/diotm_networks.h"
#include "ot/layers/time_embedding.h"

namespace brenier::ot {

struct ConvTimePotentialConfig {
  ImageShape image;
  int64_t base_channels = 16;  // b above (ours)
  int64_t hidden = 128;        // the head's width (ToyDiscriminator's 128, §4.3)
  TimeEmbeddingConfig time;    // 128-d sinusoidal embedding (TOY3, §4.3)
};

class ConvTimePotential : public DiotmPotential {
 public:
  // Throws naming the field for an invalid image shape, widths < 1 or an invalid time embedding.
  ConvTimePotential(const ConvTimePotentialConfig& config, Generator& gen, DType dtype = DType::F32);
  // t [n], x [n, C·H·W] -> Ṽ(t_i, x_i) [n].
  Var forward(const Var& t, const Var& x) const override;
  const ConvTimePotentialConfig& config() const { return config_; }

 private:
  ConvTimePotentialConfig config_;
  std::shared_ptr<nn::Conv2d> conv1_, conv2_, conv3_;
  std::shared_ptr<nn::MLP> head_;
};

}  // namespace brenier::ot
