// ConvUNetMap construction and forward (see conv_unet_map.h).
#include "ot/layers/conv_unet_map.h"

#include "engine/ops/ops.h"

namespace brenier::ot {

void check_image_shape(const ImageShape& image, const char* op) {
  BRENIER_CHECK(image.channels >= 1 && image.height >= 4 && image.width >= 4 && image.height % 4 == 0 &&
                    image.width % 4 == 0,
                "{}: config 'image' must have >= 1 channel and a height and width that are multiples of 4 (two "
                "stride-2 downsamplings), got {}x{}x{}",
                op, image.channels, image.height, image.width);
}

Var as_images(const Var& x, const ImageShape& image, const char* op) {
  BRENIER_CHECK(x.defined() && x.dim() == 2 && x.size(1) == image.numel(),
                "{}: argument 'x' must be [n, {}] (flat {}x{}x{} images), got {}", op, image.numel(), image.channels,
                image.height, image.width, x.defined() ? x.data().str() : "an undefined Var");
  return reshape(x, {x.size(0), image.channels, image.height, image.width});
}

ConvUNetMap::ConvUNetMap(const ConvUNetConfig& config, Generator& gen, DType dtype) : config_(config) {
  const char* op = "ConvUNetMap";
  check_image_shape(config_.image, op);
  const int64_t b = config_.base_channels, c = config_.image.channels;
  BRENIER_CHECK(b >= 1, "{}: config 'base_channels' must be >= 1, got {}", op, b);
  auto conv = [&](const char* name, int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad) {
    return register_module(name, std::make_shared<nn::Conv2d>(in, out, k, stride, pad, true, gen, dtype));
  };
  enc1_ = conv("enc1", c, b, 3, 1, 1);
  enc2_ = conv("enc2", b, 2 * b, 4, 2, 1);
  enc3_ = conv("enc3", 2 * b, 4 * b, 4, 2, 1);
  mid_ = conv("mid", 4 * b, 4 * b, 3, 1, 1);
  up2_ = register_module("up2", std::make_shared<nn::ConvTranspose2d>(4 * b, 2 * b, 4, 2, 1, 0, true, gen, dtype));
  dec2_ = conv("dec2", 4 * b, 2 * b, 3, 1, 1);
  up1_ = register_module("up1", std::make_shared<nn::ConvTranspose2d>(2 * b, b, 4, 2, 1, 0, true, gen, dtype));
  dec1_ = conv("dec1", 2 * b, b, 3, 1, 1);
  out_ = conv("out", b, c, 3, 1, 1);
  if (config_.zero_init_output) {
    Var w = out_->weight, bias = out_->bias;
    w.data().fill_(0.0);
    bias.data().fill_(0.0);
  }
}

Var ConvUNetMap::forward(const Var& x) const {
  const Var images = as_images(x, config_.image, "ConvUNetMap");
  const Var e1 = silu((*enc1_)(images));
  const Var e2 = silu((*enc2_)(e1));
  const Var e3 = silu((*enc3_)(e2));
  const Var m = silu((*mid_)(e3));
  const Var d2 = silu((*dec2_)(concat({(*up2_)(m), e2}, 1)));
  const Var d1 = silu((*dec1_)(concat({(*up1_)(d2), e1}, 1)));
  return x + reshape((*out_)(d1), {x.size(0), config_.image.numel()});
}

}  // namespace brenier::ot
