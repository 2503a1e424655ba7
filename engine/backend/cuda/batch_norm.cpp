// Batch norm of [rows, channels] on CUDA: allocation here, the passes in kernels/batch_norm.cu.
#include "engine/backend/cuda/context.h"
#include "engine/backend/cuda/cuda.h"
#include "kernels/launch.cuh"

namespace brenier::cuda {
namespace {

const void* data_or_null(const Tensor& t) { return t.defined() ? t.raw_data() : nullptr; }
void* data_or_null(Tensor& t) { return t.defined() ? t.raw_data() : nullptr; }

Tensor scratch_for(const Tensor& x) {
  return Tensor::empty({kernels::batch_norm_scratch_doubles(x.size(0), x.size(1))}, DType::F64, x.device());
}

}  // namespace

std::vector<Tensor> batch_norm_train(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  const int64_t channels = x.size(1);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor mean = Tensor::empty({channels}, x.dtype(), x.device());
  Tensor var = Tensor::empty({channels}, x.dtype(), x.device());
  Tensor scratch = scratch_for(x);
  kernels::batch_norm_train(x.dtype(), x.raw_data(), data_or_null(weight), data_or_null(bias), y.raw_data(),
                            mean.raw_data(), var.raw_data(), x.size(0), channels, eps, scratch.data<double>(),
                            stream_of(x.device()));
  return {y, mean, var};
}

std::vector<Tensor> batch_norm_backward(const Tensor& g, const Tensor& x, const Tensor& mean, const Tensor& var,
                                        const Tensor& weight, double eps) {
  const int64_t channels = x.size(1);
  Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor dweight = weight.defined() ? Tensor::empty({channels}, x.dtype(), x.device()) : Tensor();
  Tensor dbias = Tensor::empty({channels}, x.dtype(), x.device());
  Tensor scratch = scratch_for(x);
  kernels::batch_norm_backward(x.dtype(), g.raw_data(), x.raw_data(), mean.raw_data(), var.raw_data(),
                               data_or_null(weight), dx.raw_data(), data_or_null(dweight), dbias.raw_data(),
                               x.size(0), channels, eps, scratch.data<double>(), stream_of(x.device()));
  return {dx, dweight, dbias};
}

}  // namespace brenier::cuda
