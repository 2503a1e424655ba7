// Training-mode batch normalization on the host in two passes each way (primitives.h): per-channel
// statistics, then one normalizing pass; the backward's two sums, then one pass for dx. Written out
// with ops, the same forward and first-order backward took ~15 full passes over x (mean, sub,
// square, mean, div, mul, add and their backwards): 17 % of OT-Net's semi-discrete step (P4) on
// [10000, 512]; the batch_norm op's forward + backward there went 50 -> 24 ms (one thread, CPU time). Sums accumulate in double. Work is split over blocks of channels, so every sum is
// taken in the same order whatever the thread count.
#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/backend/cpu/cpu.h"
#include "engine/backend/cpu/loops.h"

namespace brenier::cpu {
namespace {

// Channels per block: a block walks every row, so its rows should be long runs of memory (64 channels
// of f32 were 256-byte pieces 2 KiB apart and ran 3x slower than whole 512-channel rows).
constexpr int64_t kChannelBlock = 512;

// x viewed as [N, C, S] (S = the product of the dims after the channel dim).
struct ChannelView {
  int64_t n = 1, c = 1, s = 1;
};
ChannelView channel_view(const Tensor& x) {
  ChannelView v;
  v.n = x.size(0);
  v.c = x.size(1);
  for (int64_t d = 2; d < x.dim(); ++d) v.s *= x.size(d);
  return v;
}

// Calls f(c0, c1) for blocks of channels, in parallel when the tensor is large.
template <class F>
void over_channel_blocks(const ChannelView& v, F&& f) {
  const int64_t blocks = (v.c + kChannelBlock - 1) / kChannelBlock;
#pragma omp parallel for if (v.n * v.c * v.s > kParallelThreshold)
  for (int64_t b = 0; b < blocks; ++b) f(b * kChannelBlock, std::min(v.c, (b + 1) * kChannelBlock));
}

// sums[c] = Σ_{n,s} fn(flat index, c) over the channels [c0, c1) (at most kChannelBlock), rows in order.
// The running sums live in a local array, so the row loop over channels vectorizes.
template <class F>
void channel_sums(const ChannelView& v, int64_t c0, int64_t c1, double* sums, F&& fn) {
  double acc[kChannelBlock] = {};
  const int64_t width = c1 - c0;
  if (v.s == 1) {
    for (int64_t n = 0; n < v.n; ++n) {
      const int64_t base = n * v.c + c0;
      for (int64_t j = 0; j < width; ++j) acc[j] += fn(base + j, c0 + j);
    }
  } else {
    for (int64_t n = 0; n < v.n; ++n)
      for (int64_t j = 0; j < width; ++j) {
        const int64_t base = (n * v.c + c0 + j) * v.s;
        double line = 0;
        for (int64_t i = 0; i < v.s; ++i) line += fn(base + i, c0 + j);
        acc[j] += line;
      }
  }
  for (int64_t j = 0; j < width; ++j) sums[c0 + j] = acc[j];
}

// Calls f(flat index, c) for every element of the channels [c0, c1), channels innermost when S = 1 (so
// the loop runs along contiguous memory either way).
template <class F>
void for_each_in_channels(const ChannelView& v, int64_t c0, int64_t c1, F&& f) {
  if (v.s == 1) {
    for (int64_t n = 0; n < v.n; ++n) {
      const int64_t base = n * v.c;
      for (int64_t c = c0; c < c1; ++c) f(base + c, c);
    }
  } else {
    for (int64_t n = 0; n < v.n; ++n)
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t base = (n * v.c + c) * v.s;
        for (int64_t i = 0; i < v.s; ++i) f(base + i, c);
      }
  }
}

template <class T>
void train_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps, Tensor& y, Tensor& mean,
                   Tensor& var) {
  const ChannelView v = channel_view(x);
  const double count = static_cast<double>(v.n * v.s);
  const T* px = x.data<T>();
  const T* pw = weight.defined() ? weight.data<T>() : nullptr;
  const T* pb = bias.defined() ? bias.data<T>() : nullptr;
  T* py = y.data<T>();
  T* pm = mean.data<T>();
  T* pv = var.data<T>();
  std::vector<double> sum(static_cast<size_t>(v.c)), sq(static_cast<size_t>(v.c));
  std::vector<T> scale(static_cast<size_t>(v.c)), center(static_cast<size_t>(v.c)), shift(static_cast<size_t>(v.c));
  over_channel_blocks(v, [&](int64_t c0, int64_t c1) {
    channel_sums(v, c0, c1, sum.data(), [&](int64_t i, int64_t) { return static_cast<double>(px[i]); });
    for (int64_t c = c0; c < c1; ++c) pm[c] = static_cast<T>(sum[c] / count);
    // Two-pass variance around the rounded mean, as the op-by-op formula computes it.
    channel_sums(v, c0, c1, sq.data(), [&](int64_t i, int64_t c) {
      const T d = px[i] - pm[c];
      return static_cast<double>(d * d);
    });
    for (int64_t c = c0; c < c1; ++c) {
      pv[c] = static_cast<T>(sq[c] / count);
      const T inv = T(1) / std::sqrt(pv[c] + static_cast<T>(eps));
      scale[c] = pw ? inv * pw[c] : inv;
      center[c] = pm[c];
      shift[c] = pb ? pb[c] : T(0);
    }
    const T* sc = scale.data();
    const T* ce = center.data();
    const T* sh = shift.data();
    for_each_in_channels(v, c0, c1, [&](int64_t i, int64_t c) { py[i] = (px[i] - ce[c]) * sc[c] + sh[c]; });
  });
}

template <class T>
void train_backward(const Tensor& g, const Tensor& x, const Tensor& mean, const Tensor& var, const Tensor& weight,
                    double eps, Tensor& dx, Tensor& dweight, Tensor& dbias) {
  const ChannelView v = channel_view(x);
  const double count = static_cast<double>(v.n * v.s);
  const T* pg = g.data<T>();
  const T* px = x.data<T>();
  const T* pm = mean.data<T>();
  const T* pv = var.data<T>();
  const T* pw = weight.defined() ? weight.data<T>() : nullptr;
  T* pdx = dx.data<T>();
  T* pdw = dweight.defined() ? dweight.data<T>() : nullptr;
  T* pdb = dbias.data<T>();
  std::vector<double> sum_g(static_cast<size_t>(v.c)), sum_gx(static_cast<size_t>(v.c));
  std::vector<T> inv_v(static_cast<size_t>(v.c)), k_v(static_cast<size_t>(v.c)), mg_v(static_cast<size_t>(v.c)),
      mgx_v(static_cast<size_t>(v.c));
  for (int64_t c = 0; c < v.c; ++c) inv_v[c] = T(1) / std::sqrt(pv[c] + static_cast<T>(eps));
  const T* inv = inv_v.data();
  over_channel_blocks(v, [&](int64_t c0, int64_t c1) {
    channel_sums(v, c0, c1, sum_g.data(), [&](int64_t i, int64_t) { return static_cast<double>(pg[i]); });
    channel_sums(v, c0, c1, sum_gx.data(), [&](int64_t i, int64_t c) {
      return static_cast<double>(pg[i]) * static_cast<double>((px[i] - pm[c]) * inv[c]);
    });
    // dx = w·inv·(g − mean(g) − x̂·mean(g·x̂)); dweight = Σ g·x̂; dbias = Σ g.
    for (int64_t c = c0; c < c1; ++c) {
      pdb[c] = static_cast<T>(sum_g[c]);
      if (pdw) pdw[c] = static_cast<T>(sum_gx[c]);
    }
    for (int64_t c = c0; c < c1; ++c) {
      k_v[c] = pw ? pw[c] * inv[c] : inv[c];
      mg_v[c] = static_cast<T>(sum_g[c] / count);
      mgx_v[c] = static_cast<T>(sum_gx[c] / count);
    }
    const T* k = k_v.data();
    const T* mg = mg_v.data();
    const T* mgx = mgx_v.data();
    for_each_in_channels(v, c0, c1, [&](int64_t i, int64_t c) {
      const T xhat = (px[i] - pm[c]) * inv[c];
      pdx[i] = k[c] * (pg[i] - mg[c] - xhat * mgx[c]);
    });
  });
}

}  // namespace

std::vector<Tensor> batch_norm_train(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  Tensor mean = Tensor::empty({x.size(1)}, x.dtype());
  Tensor var = Tensor::empty({x.size(1)}, x.dtype());
  dispatch_floating(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    train_forward<T>(x, weight, bias, eps, y, mean, var);
  });
  return {y, mean, var};
}

std::vector<Tensor> batch_norm_backward(const Tensor& g, const Tensor& x, const Tensor& mean, const Tensor& var,
                                        const Tensor& weight, double eps) {
  Tensor dx = Tensor::empty(x.shape(), x.dtype());
  Tensor dweight = weight.defined() ? Tensor::empty({x.size(1)}, x.dtype()) : Tensor();
  Tensor dbias = Tensor::empty({x.size(1)}, x.dtype());
  dispatch_floating(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    train_backward<T>(g, x, mean, var, weight, eps, dx, dweight, dbias);
  });
  return {dx, dweight, dbias};
}

}  // namespace brenier::cpu
