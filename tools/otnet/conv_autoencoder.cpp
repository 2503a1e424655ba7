// The Fashion-MNIST convolutional autoencoder (see conv_autoencoder.h).
#include "tools/otnet/conv_autoencoder.h"

#include <fmt/format.h>

#include "engine/ops/ops.h"

namespace brenier::otnet_tool {
namespace {
constexpr double kLeakySlope = 0.2;  // DCGAN's; Table A1 says LeakyReLU without a slope
}

ConvAutoencoder::ConvAutoencoder(const ConvAutoencoderConfig& config, Generator& gen) : config_(config) {
  BRENIER_CHECK(config.latent >= 1, "ConvAutoencoder: argument 'latent' must be >= 1, got {}", config.latent);
  BRENIER_CHECK(config.width >= 1, "ConvAutoencoder: argument 'width' must be >= 1, got {}", config.width);
  const int64_t w = config.width;
  // (in, out, kernel, stride, padding) of Table A1's Fashion-MNIST column.
  const int64_t enc[5][5] = {{1, w, 4, 2, 1},
                             {w, 2 * w, 4, 2, 1},
                             {2 * w, 4 * w, 3, 2, 1},
                             {4 * w, 8 * w, 4, 2, 1},
                             {8 * w, config.latent, 2, 1, 0}};
  for (int i = 0; i < 5; ++i) {
    enc_.push_back(register_module(
        fmt::format("enc{}", i + 1),
        std::make_shared<nn::Conv2d>(enc[i][0], enc[i][1], enc[i][2], enc[i][3], enc[i][4], true, gen)));
    if (i < 4)
      enc_bn_.push_back(register_module(fmt::format("enc{}_bn", i + 1), std::make_shared<nn::BatchNorm>(enc[i][1])));
  }
  // Table A2: the first transposed convolution has no BN / activation, the last the output activation.
  const int64_t dec[5][5] = {{config.latent, 8 * w, 2, 1, 0},
                             {8 * w, 4 * w, 4, 2, 1},
                             {4 * w, 2 * w, 3, 2, 1},
                             {2 * w, w, 4, 2, 1},
                             {w, 1, 4, 2, 1}};
  for (int i = 0; i < 5; ++i) {
    dec_.push_back(register_module(
        fmt::format("dec{}", i + 1),
        std::make_shared<nn::ConvTranspose2d>(dec[i][0], dec[i][1], dec[i][2], dec[i][3], dec[i][4], 0, true, gen)));
    if (i >= 1 && i <= 3)
      dec_bn_.push_back(register_module(fmt::format("dec{}_bn", i + 1), std::make_shared<nn::BatchNorm>(dec[i][1])));
  }
}

Var ConvAutoencoder::encode(const Var& x) const {
  BRENIER_CHECK(x.dim() == 4 && x.size(1) == 1 && x.size(2) == 28 && x.size(3) == 28,
                "ConvAutoencoder::encode: argument 'x' must be [N, 1, 28, 28], got {}", shape_str(x.shape()));
  Var h = x;
  for (size_t i = 0; i < 4; ++i) h = leaky_relu((*enc_bn_[i])((*enc_[i])(h)), kLeakySlope);
  Var z = (*enc_[4])(h);
  return reshape(z, {z.size(0), config_.latent});
}

Var ConvAutoencoder::decode(const Var& codes) const {
  BRENIER_CHECK(codes.dim() == 2 && codes.size(1) == config_.latent,
                "ConvAutoencoder::decode: argument 'codes' must be [N, {}], got {}", config_.latent,
                shape_str(codes.shape()));
  Var h = (*dec_[0])(reshape(codes, {codes.size(0), config_.latent, 1, 1}));
  for (size_t i = 1; i <= 3; ++i) h = relu((*dec_bn_[i - 1])((*dec_[i])(h)));
  return sigmoid((*dec_[4])(h));
}

}  // namespace brenier::otnet_tool
