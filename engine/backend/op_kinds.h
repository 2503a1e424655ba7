// The kinds of element-wise and reduction primitives, on their own so that code compiled by nvcc
// (kernels/, which must not see fmt or Tensor) and the host backends name ops with one enum.
// primitives.h documents what each op computes.
#pragma once

namespace brenier::prim {

// Element-wise maps. `p` is the op's scalar parameter where it has one:
// Celu alpha, LeakyRelu slope, PowScalar exponent.
enum class Unary {
  Neg, Exp, Log, Sqrt, Abs, Sign, Square, Reciprocal,
  Relu, LeakyRelu, Celu, Softplus, Sigmoid, Tanh, Silu, Gelu, Sin, Cos,
  PowScalar,
  Step,          // 1 where x > 0, else 0 (relu's derivative)
  CeluGrad,      // d celu / dx = 1 (x > 0) or exp(x / alpha)
  CeluGrad2,     // d^2 celu / dx^2 = 0 (x > 0) or exp(x / alpha) / alpha
  LeakyReluGrad, // 1 (x > 0) or slope
  GeluGrad,      // d gelu / dx (exact erf form)
  GeluGrad2,     // d^2 gelu / dx^2
  SiluGrad,      // d silu / dx = s (1 + x (1 - s)), s = sigmoid(x)
  SiluGrad2,     // d^2 silu / dx^2 = s (1 - s) (2 + x (1 - 2 s))
  Erf,
};

// Broadcasting binary maps. Comparisons return 0/1 in the floating type of their inputs
// (i64 for i64 inputs), so they serve directly as masks.
// SiluBackward(g, x) = g * silu'(x): silu's first-order backward as one pass (floating types only).
enum class Binary { Add, Sub, Mul, Div, Pow, Maximum, Minimum, Eq, Ne, Lt, Le, Gt, Ge, SiluBackward };

enum class Reduce { Sum, Max, Min };

}  // namespace brenier::prim
