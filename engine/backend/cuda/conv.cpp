// Convolution columns on CUDA: the geometry here, the kernels in kernels/conv.cu. The GEMMs of a
// convolution go through the matmul primitive (cuBLAS), composed in engine/ops/conv.cpp.
#include "engine/backend/cuda/conv.h"

#include "engine/backend/cuda/context.h"
#include "kernels/conv.cuh"

namespace brenier::cuda {
namespace {

kernels::ConvGeometry geometry(const Shape& image, int64_t kh, int64_t kw, int64_t stride, int64_t padding) {
  return {image[0], image[1], image[2], image[3], kh, kw, stride, padding,
          (image[2] + 2 * padding - kh) / stride + 1, (image[3] + 2 * padding - kw) / stride + 1};
}

}  // namespace

Tensor im2col(const Tensor& x, int64_t kh, int64_t kw, int64_t stride, int64_t padding) {
  const kernels::ConvGeometry g = geometry(x.shape(), kh, kw, stride, padding);
  Tensor cols = Tensor::empty({g.batch, g.channels * kh * kw, g.ho * g.wo}, x.dtype(), x.device());
  kernels::im2col(x.dtype(), x.raw_data(), cols.raw_data(), g, stream_of(x.device()));
  return cols;
}

Tensor col2im(const Tensor& cols, const Shape& image_shape, int64_t kh, int64_t kw, int64_t stride,
              int64_t padding) {
  const kernels::ConvGeometry g = geometry(image_shape, kh, kw, stride, padding);
  Tensor x = Tensor::empty(image_shape, cols.dtype(), cols.device());
  kernels::col2im(cols.dtype(), cols.raw_data(), x.raw_data(), g, stream_of(cols.device()));
  return x;
}

}  // namespace brenier::cuda
