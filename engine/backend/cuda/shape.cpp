// Shape primitives on CUDA: permute, slice and slice_scatter are strided copies
// (kernels::strided_copy / strided_scatter, which move elements as 4- or 8-byte words, so every
// dtype is served); concat is one 2-D cudaMemcpy per input.
#include "engine/backend/cuda/context.h"
#include "engine/backend/cuda/cuda.h"
#include "kernels/launch.cuh"
#include "engine/backend/cuda/cuda_check.h"
#include "engine/backend/cuda/strided.h"

namespace brenier::cuda {
namespace {

std::vector<int64_t> slice_strides(const Shape& shape, int64_t dim, int64_t step) {
  std::vector<int64_t> st = contiguous_strides(shape);
  st[dim] *= step;
  return st;
}

}  // namespace

Tensor permute(const Tensor& x, const std::vector<int64_t>& perm) {
  const std::vector<int64_t> xs = contiguous_strides(x.shape());
  Shape out_shape(perm.size());
  std::vector<int64_t> read_strides(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) {
    out_shape[i] = x.shape()[perm[i]];
    read_strides[i] = xs[perm[i]];
  }
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  if (out.numel() == 0) return out;
  kernels::strided_copy(dtype_size(x.dtype()), x.raw_data(), out.raw_data(), out.numel(),
                        make_strided<1>(out_shape, {read_strides}, "permute"), stream_of(x.device()));
  return out;
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t count, int64_t step) {
  Shape out_shape = x.shape();
  out_shape[dim] = count;
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  if (out.numel() == 0) return out;
  const size_t elem = dtype_size(x.dtype());
  const char* base = static_cast<const char*>(x.raw_data()) + start * contiguous_strides(x.shape())[dim] * elem;
  kernels::strided_copy(elem, base, out.raw_data(), out.numel(),
                        make_strided<1>(out_shape, {slice_strides(x.shape(), dim, step)}, "slice"),
                        stream_of(x.device()));
  return out;
}

Tensor slice_scatter(const Tensor& src, const Shape& shape, int64_t dim, int64_t start, int64_t step) {
  Tensor out = Tensor::zeros(shape, src.dtype(), src.device());
  if (src.numel() == 0) return out;
  const size_t elem = dtype_size(src.dtype());
  char* base = static_cast<char*>(out.raw_data()) + start * contiguous_strides(shape)[dim] * elem;
  kernels::strided_scatter(elem, src.raw_data(), base, src.numel(),
                           make_strided<1>(src.shape(), {slice_strides(shape, dim, step)}, "slice_scatter"),
                           stream_of(src.device()));
  return out;
}

Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  Shape out_shape = xs[0].shape();
  out_shape[dim] = 0;
  for (const Tensor& x : xs) out_shape[dim] += x.size(dim);
  Tensor out = Tensor::empty(out_shape, xs[0].dtype(), xs[0].device());
  if (out.numel() == 0) return out;
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= out_shape[d];
  for (size_t d = dim + 1; d < out_shape.size(); ++d) inner *= out_shape[d];
  const size_t elem = dtype_size(out.dtype());
  const size_t out_row = static_cast<size_t>(out_shape[dim] * inner) * elem;
  cudaStream_t s = stream_of(out.device());
  // Input i is `outer` rows of x.size(dim) * inner elements, landing after inputs 0..i-1 in each row.
  size_t offset = 0;
  for (const Tensor& x : xs) {
    const size_t row = static_cast<size_t>(x.size(dim) * inner) * elem;
    if (row > 0)
      CUDA_CHECK(cudaMemcpy2DAsync(static_cast<char*>(out.raw_data()) + offset, out_row, x.raw_data(), row,
                                   row, static_cast<size_t>(outer), cudaMemcpyDeviceToDevice, s));
    offset += row;
  }
  return out;
}

}  // namespace brenier::cuda
