// Shape primitives on the host: permute, slice, slice_scatter and concat. Each is a strided copy:
// permute and slice read x through rearranged strides, slice_scatter writes through them, all
// with the same walker (for_each_run in loops.h). They move bytes only, so they serve every dtype.
#include <cstring>

#include "engine/backend/cpu/cpu.h"
#include "engine/backend/cpu/loops.h"

namespace brenier::cpu {
namespace {

// dst[pos...] = src read by `src_strides` from `src_base`, over `shape` (dst contiguous).
template <class T>
void strided_gather(const T* src, int64_t src_base, const std::vector<int64_t>& src_strides,
                    T* dst, const Shape& shape) {
  for_each_run<1>(shape, {src_strides},
                  [&](int64_t pos, const std::array<int64_t, 1>& off, int64_t len,
                      const std::array<int64_t, 1>& in) {
                    const T* s = src + src_base + off[0];
                    for (int64_t j = 0; j < len; ++j) dst[pos + j] = s[j * in[0]];
                  });
}

// Strides of a slice with `step` along `dim` of a contiguous `shape` (its base is start * stride).
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
  Tensor out = Tensor::empty(out_shape, x.dtype());
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    strided_gather(x.data<T>(), 0, read_strides, out.data<T>(), out_shape);
  });
  return out;
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t count, int64_t step) {
  Shape out_shape = x.shape();
  out_shape[dim] = count;
  Tensor out = Tensor::empty(out_shape, x.dtype());
  const int64_t base = start * contiguous_strides(x.shape())[dim];
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    strided_gather(x.data<T>(), base, slice_strides(x.shape(), dim, step), out.data<T>(), out_shape);
  });
  return out;
}

Tensor slice_scatter(const Tensor& src, const Shape& shape, int64_t dim, int64_t start,
                     int64_t step) {
  Tensor out = Tensor::zeros(shape, src.dtype());
  const int64_t base = start * contiguous_strides(shape)[dim];
  dispatch_dtype(src.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* ps = src.data<T>();
    T* po = out.data<T>() + base;
    for_each_run<1>(src.shape(), {slice_strides(shape, dim, step)},
                    [&](int64_t pos, const std::array<int64_t, 1>& off, int64_t len,
                        const std::array<int64_t, 1>& in) {
                      for (int64_t j = 0; j < len; ++j) po[off[0] + j * in[0]] = ps[pos + j];
                    });
  });
  return out;
}

Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  Shape out_shape = xs[0].shape();
  out_shape[dim] = 0;
  for (const Tensor& x : xs) out_shape[dim] += x.size(dim);
  Tensor out = Tensor::empty(out_shape, xs[0].dtype());
  // Every input is `outer` blocks; block o of input i lands after block o of inputs 0..i-1.
  const Lines lo = lines_around(out_shape, dim);
  const size_t elem = dtype_size(out.dtype());
  const int64_t out_block = lo.size * lo.inner;
  char* po = static_cast<char*>(out.raw_data());
  int64_t offset = 0;
  for (const Tensor& x : xs) {
    const int64_t block = x.size(dim) * lo.inner;
    const char* px = static_cast<const char*>(x.raw_data());
#pragma omp parallel for if (lo.outer * block > kParallelThreshold)
    for (int64_t o = 0; o < lo.outer; ++o)
      std::memcpy(po + (o * out_block + offset) * elem, px + o * block * elem, block * elem);
    offset += block;
  }
  return out;
}

}  // namespace brenier::cpu
