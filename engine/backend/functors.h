// The math of every Unary and Binary primitive, written once for host and device.
// unary_fn<Op>(x, p) and binary_fn<Op>(a, b) are compile-time selected scalar functions, marked
// BRENIER_HD so the CPU loops (engine/backend/cpu) and the CUDA kernels (kernels/elementwise.cu)
// compile the very same code; with_unary / with_binary turn a runtime op into that compile-time
// tag once, outside the loop, so loops and kernels stay branch-free.
// Plain scalar code using only <cmath> functions that CUDA also provides for the device; no fmt,
// no Tensor, so nvcc can include it.
#pragma once
#include <cmath>
#include <type_traits>

#include "engine/backend/op_kinds.h"

#ifndef BRENIER_HD
#ifdef __CUDACC__
#define BRENIER_HD __host__ __device__
#else
#define BRENIER_HD
#endif
#endif

namespace brenier::fn {


template <prim::Unary Op>
using UnaryTag = std::integral_constant<prim::Unary, Op>;
template <prim::Binary Op>
using BinaryTag = std::integral_constant<prim::Binary, Op>;

// Numerically stable logistic: never evaluates exp of a large positive number.
template <class T>
BRENIER_HD inline T stable_sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  T e = std::exp(x);
  return e / (T(1) + e);
}
// Standard normal density and distribution function (gelu and its derivatives).
template <class T>
BRENIER_HD inline T normal_pdf(T x) {
  return T(0.3989422804014327) * std::exp(T(-0.5) * x * x);  // 1/sqrt(2 pi)
}
template <class T>
BRENIER_HD inline T normal_cdf(T x) {
  return T(0.5) * (T(1) + std::erf(x * T(0.7071067811865476)));  // 1/sqrt(2)
}

// silu's first and second derivatives from x and s = sigmoid(x): the CPU backend computes s with
// oneDNN's vectorized logistic and then applies these, so the formulas live in one place.
template <class T>
BRENIER_HD inline T silu_grad_from_sigmoid(T x, T s) {
  return s * (T(1) + x * (T(1) - s));
}
template <class T>
BRENIER_HD inline T silu_grad2_from_sigmoid(T x, T s) {
  return s * (T(1) - s) * (T(2) + x * (T(1) - T(2) * s));
}

// y = op(x); `p` is the op's scalar parameter (Celu alpha, LeakyRelu slope, PowScalar exponent).
template <prim::Unary Op, class T>
BRENIER_HD inline T unary_fn(T x, T p) {
  using U = prim::Unary;
  if constexpr (Op == U::Neg) return -x;
  else if constexpr (Op == U::Exp) return std::exp(x);
  else if constexpr (Op == U::Log) return std::log(x);
  else if constexpr (Op == U::Sqrt) return std::sqrt(x);
  else if constexpr (Op == U::Abs) return std::abs(x);
  else if constexpr (Op == U::Sign) return T((x > T(0)) - (x < T(0)));
  else if constexpr (Op == U::Square) return x * x;
  else if constexpr (Op == U::Reciprocal) return T(1) / x;
  else if constexpr (Op == U::Relu) return x > T(0) || x != x ? x : T(0);  // NaN propagates
  else if constexpr (Op == U::LeakyRelu) return x > T(0) ? x : p * x;
  else if constexpr (Op == U::Celu) return x > T(0) ? x : p * std::expm1(x / p);
  else if constexpr (Op == U::Softplus) return std::log1p(std::exp(-std::abs(x))) + (x > T(0) ? x : T(0));
  else if constexpr (Op == U::Sigmoid) return stable_sigmoid(x);
  else if constexpr (Op == U::Tanh) return std::tanh(x);
  else if constexpr (Op == U::Silu) return x * stable_sigmoid(x);
  else if constexpr (Op == U::Gelu) return x * normal_cdf(x);
  else if constexpr (Op == U::Sin) return std::sin(x);
  else if constexpr (Op == U::Cos) return std::cos(x);
  else if constexpr (Op == U::PowScalar) return std::pow(x, p);
  else if constexpr (Op == U::Step) return x > T(0) ? T(1) : T(0);
  else if constexpr (Op == U::CeluGrad) return x > T(0) ? T(1) : std::exp(x / p);
  else if constexpr (Op == U::CeluGrad2) return x > T(0) ? T(0) : std::exp(x / p) / p;
  else if constexpr (Op == U::LeakyReluGrad) return x > T(0) ? T(1) : p;
  else if constexpr (Op == U::GeluGrad) return normal_cdf(x) + x * normal_pdf(x);
  else if constexpr (Op == U::GeluGrad2) return normal_pdf(x) * (T(2) - x * x);
  else if constexpr (Op == U::SiluGrad) return silu_grad_from_sigmoid(x, stable_sigmoid(x));
  else if constexpr (Op == U::SiluGrad2) return silu_grad2_from_sigmoid(x, stable_sigmoid(x));
  else if constexpr (Op == U::Erf) return std::erf(x);
  else static_assert(Op == U::Neg, "unary_fn: an op without math");
}

// c = a op b. Comparisons give 1/0 in T. Maximum/Minimum propagate NaN like NumPy.
template <prim::Binary Op, class T>
BRENIER_HD inline T binary_fn(T a, T b) {
  using B = prim::Binary;
  if constexpr (Op == B::Add) return a + b;
  else if constexpr (Op == B::Sub) return a - b;
  else if constexpr (Op == B::Mul) return a * b;
  else if constexpr (Op == B::Div) return a / b;
  else if constexpr (Op == B::Pow) return std::pow(a, b);
  else if constexpr (Op == B::Maximum) return a > b || a != a ? a : b;
  else if constexpr (Op == B::Minimum) return a < b || a != a ? a : b;
  else if constexpr (Op == B::Eq) return T(a == b);
  else if constexpr (Op == B::Ne) return T(a != b);
  else if constexpr (Op == B::Lt) return T(a < b);
  else if constexpr (Op == B::Le) return T(a <= b);
  else if constexpr (Op == B::Gt) return T(a > b);
  else if constexpr (Op == B::Ge) return T(a >= b);
  else if constexpr (Op == B::SiluBackward) {
    if constexpr (std::is_floating_point_v<T>) return a * silu_grad_from_sigmoid(b, stable_sigmoid(b));
    else return T(0);  // never dispatched: the op is floating-only (checked by dispatch)
  }
  else static_assert(Op == B::Add, "binary_fn: an op without math");
}

// Calls f(UnaryTag<op>{}) for the runtime `op`.
template <class F>
decltype(auto) with_unary(prim::Unary op, F&& f) {
  using U = prim::Unary;
  switch (op) {
    case U::Neg: return f(UnaryTag<U::Neg>{});
    case U::Exp: return f(UnaryTag<U::Exp>{});
    case U::Log: return f(UnaryTag<U::Log>{});
    case U::Sqrt: return f(UnaryTag<U::Sqrt>{});
    case U::Abs: return f(UnaryTag<U::Abs>{});
    case U::Sign: return f(UnaryTag<U::Sign>{});
    case U::Square: return f(UnaryTag<U::Square>{});
    case U::Reciprocal: return f(UnaryTag<U::Reciprocal>{});
    case U::Relu: return f(UnaryTag<U::Relu>{});
    case U::LeakyRelu: return f(UnaryTag<U::LeakyRelu>{});
    case U::Celu: return f(UnaryTag<U::Celu>{});
    case U::Softplus: return f(UnaryTag<U::Softplus>{});
    case U::Sigmoid: return f(UnaryTag<U::Sigmoid>{});
    case U::Tanh: return f(UnaryTag<U::Tanh>{});
    case U::Silu: return f(UnaryTag<U::Silu>{});
    case U::Gelu: return f(UnaryTag<U::Gelu>{});
    case U::Sin: return f(UnaryTag<U::Sin>{});
    case U::Cos: return f(UnaryTag<U::Cos>{});
    case U::PowScalar: return f(UnaryTag<U::PowScalar>{});
    case U::Step: return f(UnaryTag<U::Step>{});
    case U::CeluGrad: return f(UnaryTag<U::CeluGrad>{});
    case U::CeluGrad2: return f(UnaryTag<U::CeluGrad2>{});
    case U::LeakyReluGrad: return f(UnaryTag<U::LeakyReluGrad>{});
    case U::GeluGrad: return f(UnaryTag<U::GeluGrad>{});
    case U::GeluGrad2: return f(UnaryTag<U::GeluGrad2>{});
    case U::SiluGrad: return f(UnaryTag<U::SiluGrad>{});
    case U::SiluGrad2: return f(UnaryTag<U::SiluGrad2>{});
    case U::Erf: return f(UnaryTag<U::Erf>{});
  }
  return f(UnaryTag<U::Neg>{});  // unreachable: every enumerator is listed above
}

// Calls f(BinaryTag<op>{}) for the runtime `op`.
template <class F>
decltype(auto) with_binary(prim::Binary op, F&& f) {
  using B = prim::Binary;
  switch (op) {
    case B::Add: return f(BinaryTag<B::Add>{});
    case B::Sub: return f(BinaryTag<B::Sub>{});
    case B::Mul: return f(BinaryTag<B::Mul>{});
    case B::Div: return f(BinaryTag<B::Div>{});
    case B::Pow: return f(BinaryTag<B::Pow>{});
    case B::Maximum: return f(BinaryTag<B::Maximum>{});
    case B::Minimum: return f(BinaryTag<B::Minimum>{});
    case B::Eq: return f(BinaryTag<B::Eq>{});
    case B::Ne: return f(BinaryTag<B::Ne>{});
    case B::Lt: return f(BinaryTag<B::Lt>{});
    case B::Le: return f(BinaryTag<B::Le>{});
    case B::Gt: return f(BinaryTag<B::Gt>{});
    case B::Ge: return f(BinaryTag<B::Ge>{});
    case B::SiluBackward: return f(BinaryTag<B::SiluBackward>{});
  }
  return f(BinaryTag<B::Add>{});  // unreachable
}

}  // namespace brenier::fn
