// Indexing primitives on the host: index_select / index_add (whole slices picked by a 1-D index)
// and gather / scatter_add (one element per index entry, PyTorch semantics), one_hot and
// nonzero_flat. Index values arrive range-checked by dispatch.cpp. The scatters accumulate
// serially where two index entries could hit the same output.
#include <cstring>

#include "engine/backend/cpu/cpu.h"
#include "engine/backend/cpu/loops.h"

namespace brenier::cpu {
namespace {

// x's contiguous strides with `dim`'s zeroed: walking index's shape with them gives the offset of
// each entry's position in x except along `dim`, which the index value supplies.
std::vector<int64_t> strides_without(const Shape& shape, int64_t dim) {
  std::vector<int64_t> st = contiguous_strides(shape);
  st[dim] = 0;
  return st;
}

}  // namespace

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  const int64_t len = index.numel();
  Shape out_shape = x.shape();
  out_shape[dim] = len;
  Tensor out = Tensor::empty(out_shape, x.dtype());
  const Lines l = lines_around(x.shape(), dim);
  const int64_t* idx = index.data<int64_t>();
  const size_t row_bytes = static_cast<size_t>(l.inner) * dtype_size(x.dtype());
  const char* px = static_cast<const char*>(x.raw_data());
  char* po = static_cast<char*>(out.raw_data());
  const int64_t n = l.outer * len;
#pragma omp parallel for if (n * l.inner > kParallelThreshold)
  for (int64_t q = 0; q < n; ++q) {
    const int64_t o = q / len, i = q % len;
    std::memcpy(po + q * row_bytes, px + (o * l.size + idx[i]) * row_bytes, row_bytes);
  }
  return out;
}

Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  Tensor out = x.clone();
  const int64_t len = index.numel();
  const Lines l = lines_around(x.shape(), dim);
  const int64_t* idx = index.data<int64_t>();
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* po = out.data<T>();
    const T* ps = src.data<T>();
    // Blocks of different `o` never overlap; within one, repeated indices accumulate in order.
#pragma omp parallel for if (l.outer > 1 && src.numel() > kParallelThreshold)
    for (int64_t o = 0; o < l.outer; ++o)
      for (int64_t i = 0; i < len; ++i) {
        T* dst = po + (o * l.size + idx[i]) * l.inner;
        const T* from = ps + (o * len + i) * l.inner;
        for (int64_t c = 0; c < l.inner; ++c) dst[c] += from[c];
      }
  });
  return out;
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  Tensor out = Tensor::empty(index.shape(), x.dtype());
  const int64_t dim_stride = contiguous_strides(x.shape())[dim];
  const int64_t* idx = index.data<int64_t>();
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for_each_run<1>(index.shape(), {strides_without(x.shape(), dim)},
                    [&](int64_t pos, const std::array<int64_t, 1>& off, int64_t len,
                        const std::array<int64_t, 1>& in) {
                      for (int64_t j = 0; j < len; ++j)
                        po[pos + j] = px[off[0] + j * in[0] + idx[pos + j] * dim_stride];
                    });
  });
  return out;
}

Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  Tensor out = x.clone();
  const int64_t dim_stride = contiguous_strides(x.shape())[dim];
  const int64_t* idx = index.data<int64_t>();
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* ps = src.data<T>();
    T* po = out.data<T>();
    // Serial: two index entries may name the same output element.
    for_each_run<2>(
        index.shape(), {strides_without(x.shape(), dim), contiguous_strides(src.shape())},
        [&](int64_t pos, const std::array<int64_t, 2>& off, int64_t len, const std::array<int64_t, 2>& in) {
          for (int64_t j = 0; j < len; ++j)
            po[off[0] + j * in[0] + idx[pos + j] * dim_stride] += ps[off[1] + j * in[1]];
        },
        /*parallel=*/false);
  });
  return out;
}

Tensor one_hot(const Tensor& index, int64_t num_classes, DType dtype) {
  Shape out_shape = index.shape();
  out_shape.push_back(num_classes);
  Tensor out = Tensor::zeros(out_shape, dtype);
  const int64_t* idx = index.data<int64_t>();
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* po = out.data<T>();
    for (int64_t i = 0, n = index.numel(); i < n; ++i) po[i * num_classes + idx[i]] = T(1);
  });
  return out;
}

Tensor nonzero_flat(const Tensor& mask) {
  std::vector<int64_t> found;
  dispatch_dtype(mask.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = mask.data<T>();
    for (int64_t i = 0, n = mask.numel(); i < n; ++i)
      if (p[i] != T(0)) found.push_back(i);
  });
  return Tensor::from_vector(found);
}

}  // namespace brenier::cpu
