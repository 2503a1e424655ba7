// Softmax, log-softmax and layer norm on CUDA: the line geometry here, the math in kernels/softmax.cu.
#include "engine/backend/cuda/context.h"
#include "engine/backend/cuda/cuda.h"
#include "kernels/launch.cuh"

namespace brenier::cuda {

Tensor softmax(const Tensor& x, int64_t dim, bool log) {
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (x.numel() == 0) return y;
  int64_t outer = 1, size = 1, inner = 1;
  if (x.dim() > 0) {
    for (int64_t d = 0; d < dim; ++d) outer *= x.size(d);
    size = x.size(dim);
    for (int64_t d = dim + 1; d < x.dim(); ++d) inner *= x.size(d);
  }
  kernels::softmax(x.dtype(), x.raw_data(), y.raw_data(), outer, size, inner, log, stream_of(x.device()));
  return y;
}

Tensor layer_norm(const Tensor& x, double eps) {
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (x.numel() == 0) return y;
  const int64_t cols = x.size(-1), rows = x.numel() / cols;
  kernels::layer_norm(x.dtype(), x.raw_data(), y.raw_data(), rows, cols, eps, stream_of(x.device()));
  return y;
}

}  // namespace brenier::cuda
