// nn::Conv2d / nn::ConvTranspose2d construction and PyTorch's default initialization.
#include "engine/nn/conv.h"

#include <cmath>

#include "engine/nn/init.h"

namespace brenier::nn {
namespace {

void check_args(const char* module, int64_t in, int64_t out, int64_t k, int64_t stride, int64_t padding, DType dtype) {
  BRENIER_CHECK(in > 0 && out > 0, "{}: arguments 'in_channels' and 'out_channels' must be > 0, got {} and {}", module,
                in, out);
  BRENIER_CHECK(k > 0, "{}: argument 'kernel_size' must be > 0, got {}", module, k);
  BRENIER_CHECK(stride > 0, "{}: argument 'stride' must be > 0, got {}", module, stride);
  BRENIER_CHECK(padding >= 0, "{}: argument 'padding' must be >= 0, got {}", module, padding);
  BRENIER_CHECK(is_floating(dtype), "{}: argument 'dtype' must be f32 or f64, got {}", module, dtype_name(dtype));
}

// torch.nn.modules.conv._ConvNd.reset_parameters: kaiming_uniform_(a = sqrt(5)) on the weight, and
// the bias uniform in ±1/sqrt(fan_in) of that weight.
void default_init(Var& weight, Var& bias, Generator& gen) {
  init::kaiming_uniform_(weight, gen, std::sqrt(5.0));
  if (bias.defined()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(init::fans(weight.data()).fan_in));
    init::uniform_(bias, gen, -bound, bound);
  }
}

}  // namespace

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride, int64_t padding,
               bool with_bias, Generator& gen, DType dtype)
    : stride_(stride), padding_(padding) {
  check_args("Conv2d", in_channels, out_channels, kernel_size, stride, padding, dtype);
  weight = register_parameter("weight",
                              Var(Tensor::empty({out_channels, in_channels, kernel_size, kernel_size}, dtype)));
  if (with_bias) bias = register_parameter("bias", Var(Tensor::empty({out_channels}, dtype)));
  default_init(weight, bias, gen);
}

ConvTranspose2d::ConvTranspose2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride,
                                 int64_t padding, int64_t output_padding, bool with_bias, Generator& gen, DType dtype)
    : stride_(stride), padding_(padding), output_padding_(output_padding) {
  check_args("ConvTranspose2d", in_channels, out_channels, kernel_size, stride, padding, dtype);
  BRENIER_CHECK(output_padding >= 0 && output_padding < stride,
                "ConvTranspose2d: argument 'output_padding' must be in [0, stride = {}), got {}", stride,
                output_padding);
  weight = register_parameter("weight",
                              Var(Tensor::empty({in_channels, out_channels, kernel_size, kernel_size}, dtype)));
  if (with_bias) bias = register_parameter("bias", Var(Tensor::empty({out_channels}, dtype)));
  default_init(weight, bias, gen);
}

}  // namespace brenier::nn
