// Softmax, log-softmax and layer normalization on the host. f32 goes to oneDNN above a size
// threshold; the loops subtract the line's max before exponentiating (so large inputs never
// overflow) and use a two-pass mean/variance, computing in double.
#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/backend/cpu/cpu.h"
#include "engine/backend/cpu/loops.h"
#include "engine/backend/cpu/onednn.h"

namespace brenier::cpu {
namespace {

// Smallest f32 element counts sent to oneDNN, measured single-threaded on [n/64, 64]:
// softmax over the last dim 3.1 vs 1.4 us at 256 elements, 164 vs 13 us at 16k; layer norm even
// at 256-1k, 34.7 vs 5.3 us at 16k. oneDNN 2.6 softmax over a non-last dim is slower than the loop
// (757 vs 161 us at 16k), so only last-dim softmax goes there.
constexpr int64_t kOnednnSoftmaxMin = 256;
constexpr int64_t kOnednnLayerNormMin = 1024;
// Lines along a non-last dim are processed `kBlock` at a time, so each pass over the dim reads
// contiguous memory instead of striding by `inner`.
constexpr int64_t kBlock = 256;

// Softmax of `width` interleaved lines of length `size` (element r of line c at in[r*stride + c]).
template <class T>
void softmax_lines(const T* in, T* out, int64_t size, int64_t stride, int64_t width, bool log) {
  double mx[kBlock], sum[kBlock];
  for (int64_t c = 0; c < width; ++c) {
    mx[c] = in[c];
    sum[c] = 0;
  }
  for (int64_t r = 1; r < size; ++r)
    for (int64_t c = 0; c < width; ++c) mx[c] = std::max<double>(mx[c], in[r * stride + c]);
  for (int64_t r = 0; r < size; ++r)
    for (int64_t c = 0; c < width; ++c) sum[c] += std::exp(in[r * stride + c] - mx[c]);
  for (int64_t c = 0; c < width; ++c) sum[c] = log ? mx[c] + std::log(sum[c]) : 1.0 / sum[c];
  // log: x - (max + log sum exp(x - max)); otherwise exp(x - max) / sum.
  for (int64_t r = 0; r < size; ++r)
    for (int64_t c = 0; c < width; ++c) {
      const double v = in[r * stride + c];
      out[r * stride + c] = static_cast<T>(log ? v - sum[c] : std::exp(v - mx[c]) * sum[c]);
    }
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim, bool log) {
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  if (x.numel() == 0) return y;
  const Lines l = lines_around(x.shape(), dim);
  if (x.dtype() == DType::F32 && l.inner == 1 && x.numel() >= kOnednnSoftmaxMin &&
      onednn::softmax(x, dim, log, y))
    return y;
  dispatch_floating(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const int64_t blocks = (l.inner + kBlock - 1) / kBlock;
#pragma omp parallel for if (x.numel() > kParallelThreshold)
    for (int64_t q = 0; q < l.outer * blocks; ++q) {
      const int64_t o = q / blocks, c0 = (q % blocks) * kBlock;
      const int64_t start = o * l.size * l.inner + c0;
      softmax_lines(px + start, py + start, l.size, l.inner, std::min(kBlock, l.inner - c0), log);
    }
  });
  return y;
}

Tensor softmax_backward(const Tensor& y, const Tensor& g, int64_t dim) {
  Tensor dx = Tensor::empty(y.shape(), y.dtype());
  const int64_t cols = y.size(dim), rows = y.numel() / cols;
  dispatch_floating(y.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* py = y.data<T>();
    const T* pg = g.data<T>();
    T* pd = dx.data<T>();
#pragma omp parallel for if (y.numel() > kParallelThreshold)
    for (int64_t r = 0; r < rows; ++r) {
      const T* yr = py + r * cols;
      const T* gr = pg + r * cols;
      T* dr = pd + r * cols;
      // The line's sum(g * y), vectorized (a reassociated sum, as the reduction primitive's).
      T dot = 0;
#pragma omp simd reduction(+ : dot)
      for (int64_t j = 0; j < cols; ++j) dot += gr[j] * yr[j];
      for (int64_t j = 0; j < cols; ++j) dr[j] = yr[j] * (gr[j] - dot);
    }
  });
  return dx;
}

Tensor layer_norm(const Tensor& x, double eps) {
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  if (x.numel() == 0) return y;
  if (x.dtype() == DType::F32 && x.numel() >= kOnednnLayerNormMin && onednn::layer_norm(x, eps, y))
    return y;
  const int64_t cols = x.size(-1), rows = x.numel() / cols;
  dispatch_floating(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
#pragma omp parallel for if (x.numel() > kParallelThreshold)
    for (int64_t r = 0; r < rows; ++r) {
      const T* in = px + r * cols;
      T* out = py + r * cols;
      double mean = 0, var = 0;
      for (int64_t c = 0; c < cols; ++c) mean += in[c];
      mean /= static_cast<double>(cols);
      for (int64_t c = 0; c < cols; ++c) var += (in[c] - mean) * (in[c] - mean);
      var /= static_cast<double>(cols);  // biased, as layer norm defines it
      const double inv_std = 1.0 / std::sqrt(var + eps);
      for (int64_t c = 0; c < cols; ++c) out[c] = static_cast<T>((in[c] - mean) * inv_std);
    }
  });
  return y;
}

}  // namespace brenier::cpu
