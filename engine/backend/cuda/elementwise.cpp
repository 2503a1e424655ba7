// Element-wise primitives on CUDA: unary maps, broadcasting binary maps, where, clamp, cast and
// broadcast_to. Shapes and strides are worked out here; kernels/elementwise.cu runs the math from
// engine/backend/functors.h, the same code the CPU loops run.
#include <cmath>
#include <limits>

#include "engine/backend/cuda/context.h"
#include "engine/backend/cuda/cuda.h"
#include "kernels/launch.cuh"
#include "engine/backend/cuda/strided.h"

namespace brenier::cuda {

Tensor unary(prim::Unary op, const Tensor& x, double p) {
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  kernels::unary(op, x.dtype(), x.raw_data(), y.raw_data(), x.numel(), p, stream_of(x.device()));
  return y;
}

Tensor binary(prim::Binary op, const Tensor& a, const Tensor& b) {
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), prim::binary_name(op));
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  const bool contiguous = a.shape() == shape && b.shape() == shape;
  kernels::Strided<2> ab;
  if (!contiguous)
    ab = make_strided<2>(shape, {broadcast_strides(a.shape(), shape), broadcast_strides(b.shape(), shape)},
                         prim::binary_name(op));
  kernels::binary(op, a.dtype(), a.raw_data(), b.raw_data(), out.raw_data(), out.numel(), ab, contiguous,
                  stream_of(a.device()));
  return out;
}

Tensor binary_scalar(prim::Binary op, const Tensor& a, double s) {
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
  kernels::binary_scalar(op, a.dtype(), a.raw_data(), s, out.raw_data(), a.numel(), stream_of(a.device()));
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  const Shape shape =
      broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  const auto l = make_strided<3>(shape,
                                 {broadcast_strides(cond.shape(), shape), broadcast_strides(a.shape(), shape),
                                  broadcast_strides(b.shape(), shape)},
                                 "where");
  kernels::where(cond.dtype(), a.dtype(), cond.raw_data(), a.raw_data(), b.raw_data(), out.raw_data(),
                 out.numel(), l, stream_of(a.device()));
  return out;
}

Tensor clamp(const Tensor& x, double lo, double hi) {
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  // Integer bounds: round inward and saturate, as the CPU backend does.
  constexpr double kMin = static_cast<double>(std::numeric_limits<int64_t>::min());
  constexpr double kMax = static_cast<double>(std::numeric_limits<int64_t>::max());
  const int64_t ilo = std::ceil(lo) <= kMin ? std::numeric_limits<int64_t>::min()
                                            : static_cast<int64_t>(std::ceil(lo));
  const int64_t ihi = std::floor(hi) >= kMax ? std::numeric_limits<int64_t>::max()
                                             : static_cast<int64_t>(std::floor(hi));
  kernels::clamp(x.dtype(), x.raw_data(), out.raw_data(), x.numel(), lo, hi, ilo, ihi,
                 stream_of(x.device()));
  return out;
}

Tensor cast(const Tensor& x, DType dtype) {
  Tensor out = Tensor::empty(x.shape(), dtype, x.device());
  kernels::cast(x.dtype(), dtype, x.raw_data(), out.raw_data(), x.numel(), stream_of(x.device()));
  return out;
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  Tensor out = Tensor::empty(shape, x.dtype(), x.device());
  if (out.numel() == 0) return out;
  const auto l = make_strided<1>(shape, {broadcast_strides(x.shape(), shape)}, "broadcast_to");
  kernels::strided_copy(dtype_size(x.dtype()), x.raw_data(), out.raw_data(), out.numel(), l,
                        stream_of(x.device()));
  return out;
}

}  // namespace brenier::cuda
