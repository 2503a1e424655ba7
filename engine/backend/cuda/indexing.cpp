// Indexing primitives on CUDA: the geometry here, the kernels in kernels/indexing.cu.
// nonzero_flat's output size depends on the data, so it reads the mask on the host (one sync).
#include "engine/backend/cuda/context.h"
#include "engine/backend/cuda/cuda.h"
#include "engine/backend/cuda/strided.h"
#include "engine/backend/lines.h"
#include "kernels/launch.cuh"

namespace brenier::cuda {
namespace {

using backend::Lines;  // engine/backend/lines.h
using backend::lines_around;

// x's contiguous strides with `dim`'s zeroed: walking index's shape with them gives the offset of
// each entry's position in x except along `dim`, which the index value supplies.
std::vector<int64_t> strides_without(const Shape& shape, int64_t dim) {
  std::vector<int64_t> st = contiguous_strides(shape);
  st[dim] = 0;
  return st;
}

const int64_t* index_ptr(const Tensor& index) { return static_cast<const int64_t*>(index.raw_data()); }

}  // namespace

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  Shape out_shape = x.shape();
  out_shape[dim] = index.numel();
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  const Lines l = lines_around(x.shape(), dim);
  kernels::index_select(dtype_size(x.dtype()), x.raw_data(), index_ptr(index), out.raw_data(), l.outer,
                        l.size, index.numel(), l.inner, stream_of(x.device()));
  return out;
}

Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  Tensor out = x.clone();
  const Lines l = lines_around(x.shape(), dim);
  kernels::index_add(x.dtype(), out.raw_data(), index_ptr(index), src.raw_data(), l.outer, l.size,
                     index.numel(), l.inner, stream_of(x.device()));
  return out;
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  Tensor out = Tensor::empty(index.shape(), x.dtype(), x.device());
  if (out.numel() == 0) return out;
  const int64_t dim_stride = contiguous_strides(x.shape())[dim];
  kernels::gather(x.dtype(), x.raw_data(), index_ptr(index), out.raw_data(), index.numel(),
                  make_strided<1>(index.shape(), {strides_without(x.shape(), dim)}, "gather"), dim_stride,
                  stream_of(x.device()));
  return out;
}

Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  Tensor out = x.clone();
  if (index.numel() == 0) return out;
  const int64_t dim_stride = contiguous_strides(x.shape())[dim];
  kernels::scatter_add(x.dtype(), out.raw_data(), index_ptr(index), src.raw_data(), index.numel(),
                       make_strided<2>(index.shape(),
                                       {strides_without(x.shape(), dim), contiguous_strides(src.shape())},
                                       "scatter_add"),
                       dim_stride, stream_of(x.device()));
  return out;
}

Tensor one_hot(const Tensor& index, int64_t num_classes, DType dtype) {
  Shape out_shape = index.shape();
  out_shape.push_back(num_classes);
  Tensor out = Tensor::zeros(out_shape, dtype, index.device());
  kernels::one_hot(dtype, index_ptr(index), out.raw_data(), index.numel(), num_classes,
                   stream_of(index.device()));
  return out;
}

Tensor nonzero_flat(const Tensor& mask) {
  const std::vector<double> host = mask.to_vector<double>();  // i64 masks are 0/1 or small counts
  std::vector<int64_t> found;
  for (size_t i = 0; i < host.size(); ++i)
    if (host[i] != 0) found.push_back(static_cast<int64_t>(i));
  return Tensor::from_vector(found).to(mask.device());
}

}  // namespace brenier::cuda
