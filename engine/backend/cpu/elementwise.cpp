// Element-wise primitives on the host: unary maps, broadcasting binary maps, where, clamp and
// broadcast_to. The math lives in functors.h; broadcasting goes through for_each_run (loops.h).
// Large f32 inputs go to oneDNN first (onednn.h); everything else, and anything oneDNN declines,
// runs the templated loops, which are also the f64 reference.
#include <cmath>
#include <limits>

#include "engine/backend/cpu/cpu.h"
#include "engine/backend/cpu/functors.h"
#include "engine/backend/cpu/loops.h"
#include "engine/backend/cpu/onednn.h"

namespace brenier::cpu {
namespace {

// Smallest f32 element counts sent to oneDNN, measured single-threaded on this 2-core VM (the
// machine is shared, so one thread gives the steadiest numbers; both paths split work over the
// same OpenMP threads). A oneDNN call costs ~1-2 us (memory objects, cache lookup, stream wait).
// - transcendental eltwise (exp, tanh, sigmoid, gelu, softplus, silu, sqrt, pow): the JIT kernel
//   beats the scalar libm loop 2-6x at 1k elements and 6-19x at 16k (exp: 3.6 vs 1.8 us at 1k,
//   54 vs 7 us at 16k; tanh: 203 vs 11 us at 16k); at 256 the two are even.
// - cheap maps (neg, abs, square, relu, leaky relu): the vectorized loop matches oneDNN at every
//   size, so they never go there.
// - binary ops never go there: the loops were as fast as oneDNN binary at every size up to 1M
//   (add [16k,64]+[64]: 3.3 vs 5.3 us at 16k, 209 vs 223 us at 1M), and oneDNN 2.6 runs some 4-D
//   broadcasts with a reference kernel: [8,2,256,256] − [8,2,256,1] took 545 ms there, 0.2 ms in the
//   loop (1 thread).
constexpr int64_t kOnednnEltwiseMin = 1024;

bool use_onednn(const Tensor& t, int64_t min_elems) {
  return t.dtype() == DType::F32 && t.numel() >= min_elems;
}

// Ops left to the loop: a handful of vectorizable instructions, where oneDNN gains nothing, and
// log, whose oneDNN 2.6 kernel is off by up to 3.5e-6 absolute near x = 1 (5% relative), far
// from libm's half ulp.
bool loop_only_unary(prim::Unary op) {
  using U = prim::Unary;
  return op == U::Neg || op == U::Abs || op == U::Square || op == U::Relu ||
         op == U::LeakyRelu || op == U::Log;
}

template <class T, class Fn>
void map_flat(const T* x, T* y, int64_t n, Fn fn) {
#pragma omp parallel for if (n > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) y[i] = fn(x[i]);
}

// out = fn(a, b) over out's shape with a and b broadcast to it. The common inner layouts
// (both contiguous, or one of them constant along the run) get their own loops so they vectorize.
template <class T, class Fn>
void broadcast_map2(const Tensor& a, const Tensor& b, Tensor& out, Fn fn) {
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  T* po = out.data<T>();
  const Shape& shape = out.shape();
  for_each_run<2>(shape, {broadcast_strides(a.shape(), shape), broadcast_strides(b.shape(), shape)},
                  [&](int64_t pos, const std::array<int64_t, 2>& off, int64_t len,
                      const std::array<int64_t, 2>& inner) {
                    T* o = po + pos;
                    const T* x = pa + off[0];
                    const T* y = pb + off[1];
                    if (inner[0] == 1 && inner[1] == 1) {
                      for (int64_t j = 0; j < len; ++j) o[j] = fn(x[j], y[j]);
                    } else if (inner[0] == 1 && inner[1] == 0) {
                      const T yv = *y;
                      for (int64_t j = 0; j < len; ++j) o[j] = fn(x[j], yv);
                    } else if (inner[0] == 0 && inner[1] == 1) {
                      const T xv = *x;
                      for (int64_t j = 0; j < len; ++j) o[j] = fn(xv, y[j]);
                    } else {
                      for (int64_t j = 0; j < len; ++j) o[j] = fn(x[j * inner[0]], y[j * inner[1]]);
                    }
                  });
}

// silu's derivatives on large f32: oneDNN's vectorized logistic writes s = sigmoid(x) into y, then
// one vectorizable pass turns it into the derivative (the loop's scalar expf does not vectorize;
// see kOnednnEltwiseMin for what that costs). The same s as the sigmoid op, so results match the
// unfused chain up to reassociation.
bool silu_derivative_via_sigmoid(prim::Unary op, const Tensor& x, Tensor& y) {
  using U = prim::Unary;
  if (op != U::SiluGrad && op != U::SiluGrad2) return false;
  if (!use_onednn(x, kOnednnEltwiseMin) || !onednn::unary(U::Sigmoid, 0.0, x, y)) return false;
  const float* px = x.data<float>();
  float* py = y.data<float>();
  const int64_t n = x.numel();
  if (op == U::SiluGrad) {
#pragma omp parallel for if (n > kParallelThreshold)
    for (int64_t i = 0; i < n; ++i) py[i] = fn::silu_grad_from_sigmoid(px[i], py[i]);
  } else {
#pragma omp parallel for if (n > kParallelThreshold)
    for (int64_t i = 0; i < n; ++i) py[i] = fn::silu_grad2_from_sigmoid(px[i], py[i]);
  }
  return true;
}

// celu's derivatives on large f32 (the ICNNs' double backward runs them on every hidden layer):
// exp(min(x, 0) / alpha) is celu'(x) on both branches (exp(0) = 1), so one vectorizable pass, oneDNN's
// exp in place, and for celu'' one more pass; the scalar loop's expf does not vectorize (6-7 ns an
// element against ~0.5 here). Same values as the loop up to the exp kernels' rounding.
bool celu_derivative_via_exp(prim::Unary op, double alpha, const Tensor& x, Tensor& y) {
  using U = prim::Unary;
  if (op != U::CeluGrad && op != U::CeluGrad2) return false;
  if (!use_onednn(x, kOnednnEltwiseMin)) return false;
  const float* px = x.data<float>();
  float* py = y.data<float>();
  const int64_t n = x.numel();
  const float inv_alpha = static_cast<float>(1.0 / alpha);
#pragma omp parallel for if (n > kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) py[i] = (px[i] > 0.f ? 0.f : px[i]) * inv_alpha;  // NaN stays NaN
  if (!onednn::unary(U::Exp, 0.0, y, y)) return false;  // the loop below recomputes from x
  // oneDNN's exp turns NaN into +inf (see onednn::unary): NaN in x gives NaN out.
  if (op == U::CeluGrad) {
#pragma omp parallel for if (n > kParallelThreshold)
    for (int64_t i = 0; i < n; ++i) py[i] = px[i] != px[i] ? px[i] : py[i];
  } else {
#pragma omp parallel for if (n > kParallelThreshold)
    for (int64_t i = 0; i < n; ++i) py[i] = px[i] > 0.f ? 0.f : px[i] != px[i] ? px[i] : py[i] * inv_alpha;
  }
  return true;
}

}  // namespace

Tensor unary(prim::Unary op, const Tensor& x, double p) {
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  if (silu_derivative_via_sigmoid(op, x, y)) return y;
  if (celu_derivative_via_exp(op, p, x, y)) return y;
  if (op == prim::Unary::GeluGrad && use_onednn(x, kOnednnEltwiseMin) && onednn::unary_derivative(op, x, y))
    return y;
  if (use_onednn(x, kOnednnEltwiseMin) && !loop_only_unary(op) && onednn::unary(op, p, x, y)) return y;
  dispatch_floating(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T param = static_cast<T>(p);
    with_unary(op, [&](auto op_tag) {
      constexpr prim::Unary Op = decltype(op_tag)::value;
      map_flat(x.data<T>(), y.data<T>(), x.numel(), [param](T v) { return unary_fn<Op>(v, param); });
    });
  });
  return y;
}

Tensor binary(prim::Binary op, const Tensor& a, const Tensor& b) {
  Tensor out = Tensor::empty(broadcast_shapes(a.shape(), b.shape(), binary_name(op)), a.dtype());
  // g * silu'(x) on large f32: oneDNN's logistic of x into out, then one pass g * s (1 + x (1 - s)),
  // the same s and formula as silu_grad (see silu_derivative_via_sigmoid).
  if (op == prim::Binary::SiluBackward && a.shape() == b.shape() && use_onednn(b, kOnednnEltwiseMin) &&
      onednn::unary(prim::Unary::Sigmoid, 0.0, b, out)) {
    const float* pg = a.data<float>();
    const float* px = b.data<float>();
    float* po = out.data<float>();
    const int64_t n = out.numel();
#pragma omp parallel for if (n > kParallelThreshold)
    for (int64_t i = 0; i < n; ++i) po[i] = pg[i] * fn::silu_grad_from_sigmoid(px[i], po[i]);
    return out;
  }
  dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    with_binary(op, [&](auto op_tag) {
      constexpr prim::Binary Op = decltype(op_tag)::value;
      broadcast_map2<T>(a, b, out, [](T u, T v) { return binary_fn<Op>(u, v); });
    });
  });
  return out;
}

Tensor binary_scalar(prim::Binary op, const Tensor& a, double s) {
  Tensor out = Tensor::empty(a.shape(), a.dtype());
  // Only pow is transcendental here (it is unary PowScalar); the other loops are as fast as oneDNN.
  if (op == prim::Binary::Pow && use_onednn(a, kOnednnEltwiseMin) &&
      onednn::unary(prim::Unary::PowScalar, s, a, out))
    return out;
  dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T sv = static_cast<T>(s);
    with_binary(op, [&](auto op_tag) {
      constexpr prim::Binary Op = decltype(op_tag)::value;
      map_flat(a.data<T>(), out.data<T>(), a.numel(), [sv](T u) { return binary_fn<Op>(u, sv); });
    });
  });
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  const Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"),
                                       b.shape(), "where");
  Tensor out = Tensor::empty(shape, a.dtype());
  dispatch_dtype(cond.dtype(), [&](auto cond_tag) {
    using C = decltype(cond_tag);
    dispatch_dtype(a.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const C* pc = cond.data<C>();
      const T* pa = a.data<T>();
      const T* pb = b.data<T>();
      T* po = out.data<T>();
      for_each_run<3>(shape,
                      {broadcast_strides(cond.shape(), shape), broadcast_strides(a.shape(), shape),
                       broadcast_strides(b.shape(), shape)},
                      [&](int64_t pos, const std::array<int64_t, 3>& off, int64_t len,
                          const std::array<int64_t, 3>& in) {
                        const C* c = pc + off[0];
                        const T* x = pa + off[1];
                        const T* y = pb + off[2];
                        T* o = po + pos;
                        // The masks' common layouts (a contiguous mask choosing between contiguous
                        // values and a broadcast scalar, as masked_fill and the max/min backwards
                        // do) get loops without stride arithmetic, so they vectorize.
                        if (in[0] == 1 && in[1] == 1 && in[2] == 1) {
                          for (int64_t j = 0; j < len; ++j) o[j] = c[j] != C(0) ? x[j] : y[j];
                        } else if (in[0] == 1 && in[1] == 0 && in[2] == 1) {
                          const T xv = *x;
                          for (int64_t j = 0; j < len; ++j) o[j] = c[j] != C(0) ? xv : y[j];
                        } else if (in[0] == 1 && in[1] == 1 && in[2] == 0) {
                          const T yv = *y;
                          for (int64_t j = 0; j < len; ++j) o[j] = c[j] != C(0) ? x[j] : yv;
                        } else {
                          for (int64_t j = 0; j < len; ++j)
                            o[j] = c[j * in[0]] != C(0) ? x[j * in[1]] : y[j * in[2]];
                        }
                      });
    });
  });
  return out;
}

Tensor clamp(const Tensor& x, double lo, double hi) {
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T l, h;
    if constexpr (std::is_integral_v<T>) {
      // Integer bounds: round inward and saturate, so ±inf and fractions mean what they say.
      constexpr double kMin = static_cast<double>(std::numeric_limits<T>::min());
      constexpr double kMax = static_cast<double>(std::numeric_limits<T>::max());
      l = std::ceil(lo) <= kMin ? std::numeric_limits<T>::min() : static_cast<T>(std::ceil(lo));
      h = std::floor(hi) >= kMax ? std::numeric_limits<T>::max() : static_cast<T>(std::floor(hi));
    } else {
      l = static_cast<T>(lo);
      h = static_cast<T>(hi);
    }
    map_flat(x.data<T>(), out.data<T>(), x.numel(), [l, h](T v) { return v < l ? l : v > h ? h : v; });
  });
  return out;
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  Tensor out = Tensor::empty(shape, x.dtype());
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for_each_run<1>(shape, {broadcast_strides(x.shape(), shape)},
                    [&](int64_t pos, const std::array<int64_t, 1>& off, int64_t len,
                        const std::array<int64_t, 1>& in) {
                      for (int64_t j = 0; j < len; ++j) po[pos + j] = px[off[0] + j * in[0]];
                    });
  });
  return out;
}

}  // namespace brenier::cpu
