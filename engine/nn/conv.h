// nn::Conv2d and nn::ConvTranspose2d: brenier::conv2d / conv_transpose2d (engine/ops/ops.h) with
// owned parameters "weight" and "bias", PyTorch layouts and PyTorch's default initialization:
// weight ~ kaiming_uniform_(a = sqrt(5)), i.e. U(-b, b) with b = 1 / sqrt(fan_in), and bias ~ U(-b, b)
// with the same b, where fan_in = weight.size(1) * kh * kw (in_channels * k² for Conv2d,
// out_channels * k² for ConvTranspose2d, as torch.nn.init computes it from the weight's layout).
// Square kernels, one stride and padding for both dims, groups = 1, dilation = 1.
#pragma once
#include "engine/nn/module.h"
#include "engine/ops/ops.h"
#include "engine/random/generator.h"

namespace brenier::nn {

// x [N, in, H, W] -> [N, out, (H + 2p - k) / s + 1, (W + 2p - k) / s + 1].
class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride = 1, int64_t padding = 0,
         bool bias = true, Generator& gen = default_generator(), DType dtype = DType::F32);
  Var forward(const Var& x) const { return conv2d(x, weight, bias, stride_, padding_); }
  Var operator()(const Var& x) const { return forward(x); }

  int64_t in_channels() const { return weight.size(1); }
  int64_t out_channels() const { return weight.size(0); }
  int64_t kernel_size() const { return weight.size(2); }
  int64_t stride() const { return stride_; }
  int64_t padding() const { return padding_; }

  Var weight;  // [out, in, k, k]
  Var bias;    // [out], or undefined without bias

 private:
  int64_t stride_, padding_;
};

// x [N, in, H, W] -> [N, out, (H - 1) s - 2p + k + output_padding, likewise W].
class ConvTranspose2d : public Module {
 public:
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride = 1,
                  int64_t padding = 0, int64_t output_padding = 0, bool bias = true,
                  Generator& gen = default_generator(), DType dtype = DType::F32);
  Var forward(const Var& x) const {
    return conv_transpose2d(x, weight, bias, stride_, padding_, output_padding_);
  }
  Var operator()(const Var& x) const { return forward(x); }

  int64_t in_channels() const { return weight.size(0); }
  int64_t out_channels() const { return weight.size(1); }
  int64_t kernel_size() const { return weight.size(2); }
  int64_t stride() const { return stride_; }
  int64_t padding() const { return padding_; }
  int64_t output_padding() const { return output_padding_; }

  Var weight;  // [in, out, k, k]
  Var bias;    // [out], or undefined without bias

 private:
  int64_t stride_, padding_, output_padding_;
};

}  // namespace brenier::nn
