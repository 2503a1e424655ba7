// ConvTimePotential construction and forward (see conv_time_potential.h).
#include "ot/layers/conv_time_potential.h"

#include "engine/ops/ops.h"

namespace brenier::ot {

ConvTimePotential::ConvTimePotential(const ConvTimePotentialConfig& config, Generator& gen, DType dtype)
    : config_(config) {
  const char* op = "ConvTimePotential";
  check_image_shape(config_.image, op);
  const int64_t b = config_.base_channels;
  BRENIER_CHECK(b >= 1 && config_.hidden >= 1, "{}: config 'base_channels' and 'hidden' must be >= 1, got {} and {}",
                op, b, config_.hidden);
  BRENIER_CHECK(config_.time.dim >= 2 && config_.time.dim % 2 == 0,
                "{}: config 'time.dim' (the time embedding's width) must be even and >= 2, got {}", op,
                config_.time.dim);
  conv1_ = register_module("conv1", std::make_shared<nn::Conv2d>(config_.image.channels, b, 3, 1, 1, true, gen, dtype));
  conv2_ = register_module("conv2", std::make_shared<nn::Conv2d>(b, 2 * b, 4, 2, 1, true, gen, dtype));
  conv3_ = register_module("conv3", std::make_shared<nn::Conv2d>(2 * b, 4 * b, 4, 2, 1, true, gen, dtype));
  const int64_t features = 4 * b * (config_.image.height / 4) * (config_.image.width / 4);
  head_ = register_module("head", std::make_shared<nn::MLP>(
                                      std::vector<int64_t>{features + config_.time.dim, config_.hidden, 1},
                                      nn::activation("silu"), /*activate_last=*/false, /*bias=*/true, gen, dtype));
}

Var ConvTimePotential::forward(const Var& t, const Var& x) const {
  const char* op = "ConvTimePotential";
  const Var images = as_images(x, config_.image, op);
  BRENIER_CHECK(t.defined() && t.dim() == 1 && t.size(0) == x.size(0),
                "{}: argument 't' must be [n] with n = {} (one time per image), got {}", op, x.size(0),
                t.defined() ? t.data().str() : "an undefined Var");
  Var h = silu((*conv1_)(images));
  h = silu((*conv2_)(h));
  h = silu((*conv3_)(h));
  const Var features = reshape(h, {x.size(0), h.size(1) * h.size(2) * h.size(3)});
  return reshape(head_->forward(concat({features, sinusoidal_time_embedding(t, config_.time)}, 1)), {x.size(0)});
}

}  // namespace brenier::ot
