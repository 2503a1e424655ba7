// Softmax, log-softmax and layer normalization: one block per line. Like the CPU loops they
// subtract the line's max before exponentiating, use a two-pass mean/variance, and compute in
// double (the H100 runs f64 at half the f32 rate; these kernels are memory-bound anyway).
#include "kernels/block_reduce.cuh"

namespace brenier::kernels {
namespace {

struct MaxOp {
  __device__ double operator()(double a, double b) const { return a > b || a != a ? a : b; }
};
struct SumOp {
  __device__ double operator()(double a, double b) const { return a + b; }
};

// Line q of `outer * inner` lines: entries q's base + r * inner for r < size.
template <class T>
__global__ void softmax_kernel(const T* x, T* y, int64_t outer, int64_t size, int64_t inner, bool log) {
  for (int64_t q = blockIdx.x; q < outer * inner; q += gridDim.x) {
    const int64_t base = (q / inner) * size * inner + q % inner;
    const T* in = x + base;
    T* out = y + base;
    double mx = -INFINITY;
    for (int64_t r = threadIdx.x; r < size; r += blockDim.x) mx = MaxOp{}(mx, double(in[r * inner]));
    mx = block_reduce(mx, MaxOp{});
    double sum = 0;
    for (int64_t r = threadIdx.x; r < size; r += blockDim.x) sum += exp(double(in[r * inner]) - mx);
    sum = block_reduce(sum, SumOp{});
    // log: x - (max + log sum exp(x - max)); otherwise exp(x - max) / sum.
    const double shift = log ? mx + ::log(sum) : 0.0, scale = log ? 0.0 : 1.0 / sum;
    for (int64_t r = threadIdx.x; r < size; r += blockDim.x) {
      const double v = in[r * inner];
      out[r * inner] = static_cast<T>(log ? v - shift : exp(v - mx) * scale);
    }
  }
}

// Softmax's backward along a line, fused: out = y (g − Σ g y). One block per line, like softmax_kernel
// (composed from primitives it took 4 passes and 699 us on HOTET's [8, 4, 1024, 1024] attention scores).
template <class T>
__global__ void softmax_backward_kernel(const T* y, const T* g, T* out, int64_t outer, int64_t size, int64_t inner) {
  for (int64_t q = blockIdx.x; q < outer * inner; q += gridDim.x) {
    const int64_t base = (q / inner) * size * inner + q % inner;
    double dot = 0;
    for (int64_t r = threadIdx.x; r < size; r += blockDim.x)
      dot += double(g[base + r * inner]) * double(y[base + r * inner]);
    dot = block_reduce(dot, SumOp{});
    for (int64_t r = threadIdx.x; r < size; r += blockDim.x) {
      const int64_t at = base + r * inner;
      out[at] = static_cast<T>(double(y[at]) * (double(g[at]) - dot));
    }
  }
}

template <class T>
__global__ void layer_norm_kernel(const T* x, T* y, int64_t rows, int64_t cols, double eps) {
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* in = x + row * cols;
    T* out = y + row * cols;
    double sum = 0;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) sum += in[c];
    const double mean = block_reduce(sum, SumOp{}) / static_cast<double>(cols);
    double sq = 0;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      const double d = in[c] - mean;
      sq += d * d;
    }
    const double var = block_reduce(sq, SumOp{}) / static_cast<double>(cols);  // biased, as layer norm defines it
    const double inv_std = 1.0 / sqrt(var + eps);
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) out[c] = static_cast<T>((in[c] - mean) * inv_std);
  }
}

unsigned blocks_for(int64_t lines) {
  return static_cast<unsigned>(lines < 65535 * 8 ? (lines < 1 ? 1 : lines) : 65535 * 8);
}

}  // namespace

void softmax(DType dtype, const void* x, void* y, int64_t outer, int64_t size, int64_t inner, bool log,
             cudaStream_t s) {
  if (outer * size * inner == 0) return;
  with_floating(dtype, [&](auto t) {
    using T = decltype(t);
    softmax_kernel<T><<<blocks_for(outer * inner), threads_for(size), 0, s>>>(
        static_cast<const T*>(x), static_cast<T*>(y), outer, size, inner, log);
  });
  CUDA_CHECK_LAUNCH();
}

void softmax_backward(DType dtype, const void* y, const void* g, void* out, int64_t outer, int64_t size,
                      int64_t inner, cudaStream_t s) {
  if (outer * size * inner == 0) return;
  with_floating(dtype, [&](auto t) {
    using T = decltype(t);
    softmax_backward_kernel<T><<<blocks_for(outer * inner), threads_for(size), 0, s>>>(
        static_cast<const T*>(y), static_cast<const T*>(g), static_cast<T*>(out), outer, size, inner);
  });
  CUDA_CHECK_LAUNCH();
}

void layer_norm(DType dtype, const void* x, void* y, int64_t rows, int64_t cols, double eps,
                cudaStream_t s) {
  if (rows * cols == 0) return;
  with_floating(dtype, [&](auto t) {
    using T = decltype(t);
    layer_norm_kernel<T><<<blocks_for(rows), threads_for(cols), 0, s>>>(
        static_cast<const T*>(x), static_cast<T*>(y), rows, cols, eps);
  });
  CUDA_CHECK_LAUNCH();
}

}  // namespace brenier::kernels
