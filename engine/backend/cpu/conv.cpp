// im2col / col2im on the host, f32 and f64: the data movement of a convolution, whose arithmetic
// is the matmul primitive's (oneDNN GEMM for f32, loops for f64). One code path for both dtypes:
// oneDNN 2.6 has no f64 convolution on the CPU, and one path keeps f32 and f64 results consistent.
// Parallelized with OpenMP over rows (im2col) and over image planes (col2im: a plane is written by
// one thread only, so the sums need no atomics and are deterministic).
#include "engine/backend/cpu/conv.h"

#include <algorithm>

#include "engine/backend/cpu/loops.h"

namespace brenier::cpu {
namespace {

struct Geometry {
  int64_t channels, h, w, kh, kw, stride, padding, ho, wo;
};
Geometry geometry(const Shape& image, int64_t kh, int64_t kw, int64_t stride, int64_t padding) {
  return {image[1], image[2], image[3], kh, kw, stride, padding,
          (image[2] + 2 * padding - kh) / stride + 1, (image[3] + 2 * padding - kw) / stride + 1};
}

// The output columns ox whose input column ox*s - p + j lies inside the image: [lo, hi). Loops
// run zeros / a branch-free (for stride 1 contiguous, vectorized) copy / zeros over the three
// pieces instead of testing every element; the same values, and the same sums in the same order.
struct ValidRange {
  int64_t lo, hi;
};
ValidRange valid_columns(const Geometry& g, int64_t j) {
  // ix = ox*s - p + j >= 0  <=>  ox >= ceil((p - j) / s);  ix <= w - 1  <=>  ox <= floor((w - 1 + p - j) / s).
  const int64_t first = g.padding - j, last = g.w - 1 + g.padding - j;
  int64_t lo = first <= 0 ? 0 : (first + g.stride - 1) / g.stride;
  int64_t hi = last < 0 ? 0 : last / g.stride + 1;
  lo = std::min(lo, g.wo);
  hi = std::max(lo, std::min(hi, g.wo));
  return {lo, hi};
}

// cols[n, (c, i, j), (oy, ox)] = x[n, c, oy*s - p + i, ox*s - p + j], 0 in the padding.
template <class T>
void im2col_loop(const T* x, T* cols, int64_t batch, const Geometry& g) {
  const int64_t rows = batch * g.channels * g.kh * g.kw, l = g.ho * g.wo;
#pragma omp parallel for if (rows * l > kParallelThreshold)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t j = r % g.kw, i = (r / g.kw) % g.kh, plane = r / (g.kw * g.kh);  // plane = n*C + c
    const T* img = x + plane * g.h * g.w;
    T* out = cols + r * l;
    const ValidRange cols_in = valid_columns(g, j);
    for (int64_t oy = 0; oy < g.ho; ++oy) {
      const int64_t iy = oy * g.stride - g.padding + i;
      T* line = out + oy * g.wo;
      if (iy < 0 || iy >= g.h) {
        for (int64_t ox = 0; ox < g.wo; ++ox) line[ox] = T(0);
        continue;
      }
      const T* src = img + iy * g.w;
      for (int64_t ox = 0; ox < cols_in.lo; ++ox) line[ox] = T(0);
      if (g.stride == 1) {
        const T* from = src + (cols_in.lo - g.padding + j);  // input column of ox = lo
        for (int64_t k = 0; k < cols_in.hi - cols_in.lo; ++k) line[cols_in.lo + k] = from[k];
      } else {
        for (int64_t ox = cols_in.lo; ox < cols_in.hi; ++ox) line[ox] = src[ox * g.stride - g.padding + j];
      }
      for (int64_t ox = cols_in.hi; ox < g.wo; ++ox) line[ox] = T(0);
    }
  }
}

// x[n, c, iy, ix] = sum of the column entries read from it (im2col's adjoint).
template <class T>
void col2im_loop(const T* cols, T* x, int64_t batch, const Geometry& g) {
  const int64_t planes = batch * g.channels, l = g.ho * g.wo;
#pragma omp parallel for if (planes * g.kh * g.kw * l > kParallelThreshold)
  for (int64_t plane = 0; plane < planes; ++plane) {
    T* img = x + plane * g.h * g.w;
    for (int64_t k = 0; k < g.h * g.w; ++k) img[k] = T(0);
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j) {
        const T* row = cols + ((plane * g.kh + i) * g.kw + j) * l;
        const ValidRange cols_in = valid_columns(g, j);
        for (int64_t oy = 0; oy < g.ho; ++oy) {
          const int64_t iy = oy * g.stride - g.padding + i;
          if (iy < 0 || iy >= g.h) continue;
          T* dst = img + iy * g.w;
          const T* line = row + oy * g.wo;
          if (g.stride == 1) {
            T* to = dst + (cols_in.lo - g.padding + j);  // input column of ox = lo
            for (int64_t k = 0; k < cols_in.hi - cols_in.lo; ++k) to[k] += line[cols_in.lo + k];
          } else {
            for (int64_t ox = cols_in.lo; ox < cols_in.hi; ++ox) dst[ox * g.stride - g.padding + j] += line[ox];
          }
        }
      }
  }
}

}  // namespace

Tensor im2col(const Tensor& x, int64_t kh, int64_t kw, int64_t stride, int64_t padding) {
  const Geometry g = geometry(x.shape(), kh, kw, stride, padding);
  const int64_t batch = x.size(0);
  Tensor cols = Tensor::empty({batch, g.channels * kh * kw, g.ho * g.wo}, x.dtype());
  dispatch_floating(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    im2col_loop(x.data<T>(), cols.data<T>(), batch, g);
  });
  return cols;
}

Tensor col2im(const Tensor& cols, const Shape& image_shape, int64_t kh, int64_t kw, int64_t stride,
              int64_t padding) {
  const Geometry g = geometry(image_shape, kh, kw, stride, padding);
  Tensor x = Tensor::empty(image_shape, cols.dtype());
  dispatch_floating(cols.dtype(), [&](auto tag) {
    using T = decltype(tag);
    col2im_loop(cols.data<T>(), x.data<T>(), image_shape[0], g);
  });
  return x;
}

}  // namespace brenier::cpu
