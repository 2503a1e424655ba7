// CPU convolution columns (conv.cpp): im2col / col2im, called by dispatch.cpp after it has checked
// the arguments (see primitives.h). The GEMMs of a convolution are the matmul primitive's.
#pragma once
#include "engine/tensor.h"

namespace brenier::cpu {

Tensor im2col(const Tensor& x, int64_t kh, int64_t kw, int64_t stride, int64_t padding);
Tensor col2im(const Tensor& cols, const Shape& image_shape, int64_t kh, int64_t kw, int64_t stride,
              int64_t padding);

}  // namespace brenier::cpu
