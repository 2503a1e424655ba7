// Softmax, log-softmax and layer norm on CUDA: the line geometry here, the math in kernels/softmax.cu.
#include "engine/backend/cuda/context.h"
#include "engine/backend/cuda/cuda.h"
#include "engine/backend/lines.h"
#include "kernels/launch.cuh"

namespace brenier::cuda {

Tensor softmax(const Tensor& x, int64_t dim, bool log) {
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (x.numel() == 0) return y;
  const backend::Lines l = backend::lines_around(x.shape(), dim);
  kernels::softmax(x.dtype(), x.raw_data(), y.raw_data(), l.outer, l.size, l.inner, log, stream_of(x.device()));
  return y;
}

Tensor softmax_backward(const Tensor& y, const Tensor& g, int64_t dim) {
  Tensor out = Tensor::empty(y.shape(), y.dtype(), y.device());
  if (y.numel() == 0) return out;
  const backend::Lines l = backend::lines_around(y.shape(), dim);
  kernels::softmax_backward(y.dtype(), y.raw_data(), g.raw_data(), out.raw_data(), l.outer, l.size, l.inner,
                            stream_of(y.device()));
  return out;
}

Tensor layer_norm(const Tensor& x, double eps) {
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (x.numel() == 0) return y;
  const int64_t cols = x.size(-1), rows = x.numel() / cols;
  kernels::layer_norm(x.dtype(), x.raw_data(), y.raw_data(), rows, cols, eps, stream_of(x.device()));
  return y;
}

}  // namespace brenier::cuda
