// Convolution column kernels: im2col (one thread per column entry) and col2im (one thread per
// image pixel, gathering the entries that im2col read from it, so the sums need no atomics and
// match the CPU's order of terms only up to rounding of a few adds). The GEMMs are cuBLAS's.
#include "kernels/common.cuh"
#include "kernels/conv.cuh"

namespace brenier::kernels {
namespace {

template <class T>
__global__ void im2col_kernel(const T* x, T* cols, ConvGeometry g) {
  const int64_t l = g.ho * g.wo;
  BRENIER_GRID_STRIDE(e, g.batch * g.channels * g.kh * g.kw * l) {
    const int64_t pos = e % l, row = e / l;
    const int64_t ox = pos % g.wo, oy = pos / g.wo;
    const int64_t j = row % g.kw, i = (row / g.kw) % g.kh, plane = row / (g.kw * g.kh);
    const int64_t iy = oy * g.stride - g.padding + i, ix = ox * g.stride - g.padding + j;
    cols[e] = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w ? x[(plane * g.h + iy) * g.w + ix] : T(0);
  }
}

template <class T>
__global__ void col2im_kernel(const T* cols, T* x, ConvGeometry g) {
  const int64_t l = g.ho * g.wo;
  BRENIER_GRID_STRIDE(e, g.batch * g.channels * g.h * g.w) {
    const int64_t ix = e % g.w, iy = (e / g.w) % g.h, plane = e / (g.w * g.h);
    T acc = T(0);
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t ty = iy + g.padding - i;  // = oy * stride when (oy, i) reads this pixel
      if (ty < 0 || ty % g.stride != 0 || ty / g.stride >= g.ho) continue;
      const int64_t oy = ty / g.stride;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t tx = ix + g.padding - j;
        if (tx < 0 || tx % g.stride != 0 || tx / g.stride >= g.wo) continue;
        acc += cols[((plane * g.kh + i) * g.kw + j) * l + oy * g.wo + tx / g.stride];
      }
    }
    x[e] = acc;
  }
}

}  // namespace

void im2col(DType dtype, const void* x, void* cols, const ConvGeometry& g, cudaStream_t s) {
  const int64_t n = g.batch * g.channels * g.kh * g.kw * g.ho * g.wo;
  if (n == 0) return;
  with_floating(dtype, [&](auto t) {
    using T = decltype(t);
    im2col_kernel<T><<<grid_for(n), kThreads, 0, s>>>(static_cast<const T*>(x), static_cast<T*>(cols), g);
  });
  CUDA_CHECK_LAUNCH();
}

void col2im(DType dtype, const void* cols, void* x, const ConvGeometry& g, cudaStream_t s) {
  const int64_t n = g.batch * g.channels * g.h * g.w;
  if (n == 0) return;
  with_floating(dtype, [&](auto t) {
    using T = decltype(t);
    col2im_kernel<T><<<grid_for(n), kThreads, 0, s>>>(static_cast<const T*>(cols), static_cast<T*>(x), g);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace brenier::kernels
