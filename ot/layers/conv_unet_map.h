// ConvUNetMap: DIOTM's boundary map for images (issue 7's `translate`), T(x) = x + UNet(x) on flat
// images [n, C·H·W]. The paper's image maps are NCSN++ generators (spec/algorithms.md §4.3), far too
// large for a CPU; this is a small U-Net of the same kind (ours): two stride-2 downsamplings with skip
// connections, SiLU, no normalization (rows stay independent, diotm_networks.h):
//
//   e1 = silu(conv3(C → b))            H × W
//   e2 = silu(conv4/2(b → 2b))         H/2       (stride 2)
//   e3 = silu(conv4/2(2b → 4b))        H/4
//   m  = silu(conv3(4b → 4b))          H/4
//   d2 = silu(conv3([convT4/2(m) → 2b, e2] → 2b))   H/2
//   d1 = silu(conv3([convT4/2(d2) → b, e1] → b))    H
//   T(x) = x + conv3(d1 → C)           zero-initialized: T starts as the identity (TOY3's option, §4.3)
#pragma once
#include <cstdint>
#include <memory>

#include "engine/nn/conv.h"
#include "engine/random/generator.h"
#include "ot/layers/diotm_networks.h"

namespace brenier::ot {

struct ImageShape {
  int64_t channels = 1, height = 28, width = 28;
  int64_t numel() const { return channels * height * width; }
};

struct ConvUNetConfig {
  ImageShape image;
  int64_t base_channels = 16;  // b above (ours: small enough for CPU training)
  bool zero_init_output = true;
};

class ConvUNetMap : public DiotmMap {
 public:
  // Throws naming the field unless every size is >= 1 and height and width are multiples of 4.
  ConvUNetMap(const ConvUNetConfig& config, Generator& gen, DType dtype = DType::F32);
  // x [n, C·H·W] -> x + UNet(x) [n, C·H·W].
  Var forward(const Var& x) const override;
  const ConvUNetConfig& config() const { return config_; }

 private:
  ConvUNetConfig config_;
  std::shared_ptr<nn::Conv2d> enc1_, enc2_, enc3_, mid_, dec2_, dec1_, out_;
  std::shared_ptr<nn::ConvTranspose2d> up2_, up1_;
};

// Throws naming `op` unless x is [n, C·H·W] for `image`; returns it as [n, C, H, W].
Var as_images(const Var& x, const ImageShape& image, const char* op);
// Validates an ImageShape (sizes >= 1; height and width multiples of 4 for the two downsamplings).
void check_image_shape(const ImageShape& image, const char* op);

}  // namespace brenier::ot
