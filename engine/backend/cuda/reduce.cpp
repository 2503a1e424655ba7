// Reductions on CUDA: the kept/reduced stride split of cpu/reduce.cpp, handed to kernels/reduce.cu;
// argmax/argmin, topk and bincount along one dim.
#include <algorithm>

#include "engine/backend/cuda/context.h"
#include "engine/backend/cuda/cuda.h"
#include "kernels/launch.cuh"
#include "engine/backend/cuda/cuda_check.h"
#include "engine/backend/lines.h"
#include "engine/backend/cuda/strided.h"

namespace brenier::cuda {
namespace {

using backend::Lines;  // engine/backend/lines.h
using backend::lines_around;

}  // namespace

Tensor reduce(prim::Reduce op, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  const Shape& shape = x.shape();
  if (shape.empty()) return x.clone();  // a 0-d tensor reduces to itself
  Shape keep_shape = shape, out_shape;
  std::vector<bool> reduced(shape.size(), false);
  for (int64_t d : dims) reduced[d] = true;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (reduced[d]) keep_shape[d] = 1;
    if (!reduced[d] || keepdim) out_shape.push_back(keep_shape[d]);
  }
  Tensor out = Tensor::empty(keep_shape, x.dtype(), x.device());
  const std::vector<int64_t> strides = contiguous_strides(shape);
  Shape red_shape(shape.size(), 1);
  std::vector<int64_t> kept_strides(shape.size(), 0), red_strides(shape.size(), 0);
  for (size_t d = 0; d < shape.size(); ++d) {
    if (reduced[d]) {
      red_shape[d] = shape[d];
      red_strides[d] = strides[d];
    } else {
      kept_strides[d] = strides[d];
    }
  }
  const int64_t n_red = numel(red_shape);
  if (n_red == 0) {  // a sum over nothing (dispatch rejects empty max/min)
    out.fill_(0.0);
    return out.reshape(out_shape);
  }
  kernels::reduce(op, x.dtype(), x.raw_data(), out.raw_data(), out.numel(), n_red,
                  make_strided<1>(keep_shape, {kept_strides}, "reduce"),
                  make_strided<1>(red_shape, {red_strides}, "reduce"), stream_of(x.device()));
  return out.reshape(out_shape);
}

Tensor argreduce(bool is_max, const Tensor& x, int64_t dim, bool keepdim) {
  const Lines l = lines_around(x.shape(), dim);
  Shape out_shape = x.shape();
  if (!out_shape.empty()) {
    if (keepdim) out_shape[dim] = 1;
    else out_shape.erase(out_shape.begin() + dim);
  }
  Tensor out = Tensor::empty(out_shape, DType::I64, x.device());
  if (x.numel() == 0) return out;
  kernels::argreduce(is_max, x.dtype(), x.raw_data(), static_cast<int64_t*>(out.raw_data()), l.outer,
                     l.size, l.inner, stream_of(x.device()));
  return out;
}

std::vector<Tensor> topk(const Tensor& x, int64_t k, int64_t dim, bool largest) {
  const Lines l = lines_around(x.shape(), dim);
  Shape out_shape = x.shape();
  out_shape[dim] = k;
  Tensor values = Tensor::empty(out_shape, x.dtype(), x.device());
  Tensor indices = Tensor::empty(out_shape, DType::I64, x.device());
  kernels::topk(x.dtype(), x.raw_data(), values.raw_data(), static_cast<int64_t*>(indices.raw_data()),
                l.outer, l.size, l.inner, k, largest, stream_of(x.device()));
  return {values, indices};
}

Tensor bincount(const Tensor& index, int64_t minlength) {
  // The output length depends on the largest index: read it on the host (dispatch.cpp has already
  // copied the index there to check it, so this is one more small copy, not a new sync point).
  const std::vector<int64_t> host = index.to_vector<int64_t>();
  int64_t length = minlength;
  for (int64_t v : host) length = std::max(length, v + 1);
  Tensor out = Tensor::zeros({length}, DType::I64, index.device());
  kernels::bincount(static_cast<const int64_t*>(index.raw_data()), index.numel(),
                    static_cast<int64_t*>(out.raw_data()), stream_of(index.device()));
  return out;
}

}  // namespace brenier::cuda
