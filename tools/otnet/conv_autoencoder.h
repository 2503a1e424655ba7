// The convolutional autoencoder of OT-Net's latent generation on Fashion-MNIST (paper Appendix A,
// Tables A1–A2; spec/algorithms.md §6.2–6.3): 28×28 gray images ↔ latent codes, on which the semi-discrete
// OT map then runs. Layers follow the paper's Fashion-MNIST column, with w = `width` ("dim" in the tables,
// a value the paper does not give) and the latent size ours (the paper: 100):
//   encoder  conv(1→w, 4, s2, p1) 14² → conv(w→2w, 4, s2, p1) 7² → conv(2w→4w, 3, s2, p1) 4²
//            → conv(4w→8w, 4, s2, p1) 2², each + BatchNorm + LeakyReLU(0.2) → conv(8w→latent, 2) 1²
//   decoder  convT(latent→8w, 2) 2² → convT(8w→4w, 4, s2, p1) 4² → convT(4w→2w, 3, s2, p1) 7²
//            → convT(2w→w, 4, s2, p1) 14², these three + BatchNorm + ReLU → convT(w→1, 4, s2, p1) 28²
// The tables' last activation is Tanh on [−1, 1] images; ours is the sigmoid on [0, 1] images (the same
// function up to an affine change, σ(2z) = (tanh z + 1)/2). LeakyReLU's slope 0.2 is DCGAN's (the paper
// gives none).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/nn/batch_norm.h"
#include "engine/nn/conv.h"
#include "engine/nn/module.h"
#include "engine/random/generator.h"

namespace brenier::otnet_tool {

struct ConvAutoencoderConfig {
  int64_t latent = 64;  // ours: the paper uses 100 (Tables A1–A3); 64 keeps the OT solve cheap on a CPU
  int64_t width = 16;   // "dim" of Tables A1–A2 (not given); ours
};

class ConvAutoencoder : public nn::Module {
 public:
  ConvAutoencoder(const ConvAutoencoderConfig& config, Generator& gen);
  // x [N, 1, 28, 28] → codes [N, latent].
  Var encode(const Var& x) const;
  // codes [N, latent] → images [N, 1, 28, 28] in (0, 1).
  Var decode(const Var& codes) const;
  Var forward(const Var& x) const { return decode(encode(x)); }
  const ConvAutoencoderConfig& config() const { return config_; }

 private:
  ConvAutoencoderConfig config_;
  std::vector<std::shared_ptr<nn::Conv2d>> enc_;
  std::vector<std::shared_ptr<nn::BatchNorm>> enc_bn_;
  std::vector<std::shared_ptr<nn::ConvTranspose2d>> dec_;
  std::vector<std::shared_ptr<nn::BatchNorm>> dec_bn_;
};

}  // namespace brenier::otnet_tool
