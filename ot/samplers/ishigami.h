// The Ishigami test function (Ishigami & Homma 1990) and its OT-based global sensitivity indices: the
// problem with known structure on which `nctm sensitivity` reproduces NCTM's sensitivity application
// (arXiv 2505.15808; spec/algorithms.md §5.2), whose IAM data are not public.
//
//   Y = sin X₁ + a sin² X₂ + b X₃⁴ sin X₁,   X_i ~ U(−π, π) independent,  a = 7, b = 0.1 (the usual values).
//
// OT sensitivity index of input i (Borgonovo, Figalli, Plischke & Savaré, "Global sensitivity analysis via
// optimal transport", Management Science 2024, the framework the paper's application uses):
//   ι_i = E_{x_i}[ W2²(P_Y, P_{Y|X_i = x_i}) ] / (2 Var Y)   ∈ [0, 1],
// 2 Var Y being the cost of the independent coupling averaged over x_i (the index's upper bound). The
// expectation over x_i is a midpoint rule on `grid_size` values of (−π, π).
//
// Three ways to the per-value cost W2²(P_Y, P_{Y|X_i = x}):
//   * w2_squared_1d: exact OT between two equal-size samples. In 1-D the sorted (quantile) matching is an
//     optimal coupling for any convex cost of the difference (e.g. Villani, "Topics in Optimal
//     Transportation", 2003, Thm 2.18 and Remark 2.19; Santambrogio, "OT for Applied Mathematicians", 2015,
//     Thm 2.9), so W2² = mean (a₍ₖ₎ − b₍ₖ₎)² over sorted samples — O(n log n), the Hungarian's result.
//   * ishigami_w2_squared_quadrature: a deterministic reference from the laws themselves: CDFs by
//     midpoint quadrature (the sin X₁ part integrated in closed form), inverted on a fine grid, and
//     W2² = ∫₀¹ (F⁻¹(u) − G⁻¹(u))² du. No sampling; independent of the sample estimator.
//   * a learned conditional map (tools/nctm/sensitivity.cpp).
#pragma once
#include <cstdint>
#include <vector>

#include "engine/random/generator.h"
#include "engine/tensor.h"

namespace brenier::ot {

struct Ishigami {
  double a = 7.0, b = 0.1;
  double operator()(double x1, double x2, double x3) const;
  // Closed forms: Var Y = a²/8 + bπ⁴/5 + b²π⁸/18 + 1/2; the mean and variance of Y | X_i = x (i = 0, 1, 2).
  double variance() const;
  double mean() const { return a / 2; }
  double conditional_mean(int input, double x) const;
  double conditional_variance(int input, double x) const;
};

// Exact W2² between the uniform measures on two equal-size 1-D samples (sorted matching; copies them).
double w2_squared_1d(std::vector<double> a, std::vector<double> b);

// x_i grid of the index: midpoints of `grid_size` equal cells of (−π, π).
std::vector<double> sensitivity_grid(int64_t grid_size);

// Samples of Y [n] (f64) with every input drawn from `gen`, or with input `fixed_input` held at `value`.
std::vector<double> ishigami_outputs(const Ishigami& f, int64_t n, Generator& gen);
std::vector<double> ishigami_conditional_outputs(const Ishigami& f, int fixed_input, double value, int64_t n,
                                                 Generator& gen);

// The exact-OT-on-samples index of one input: n draws of Y for P_Y, and for every grid value n draws of
// Y | X_i = x sharing one draw of the other inputs (common random numbers: the per-value costs then vary
// only through x). index = mean cost / (2 Var Y) with Var Y in closed form.
struct OtSensitivity {
  int input = 0;
  std::vector<double> grid, costs;  // per-value W2²(P_Y, P_{Y|X_i = x}) in Y's units²
  double index = 0;
};
OtSensitivity exact_ot_sensitivity(const Ishigami& f, int input, int64_t grid_size, int64_t n, Generator& gen);

// The deterministic reference: quantile functions at `levels` levels (k + ½)/levels of P_Y (input = −1) or
// of P_{Y|X_i = x}, from CDFs on `cdf_points` values of y, each CDF value a midpoint rule with `nodes` nodes
// per integrated input (tests/ot/test_ishigami.cpp measures its accuracy).
struct QuadratureOptions {
  int64_t nodes = 128, cdf_points = 2048, levels = 2048;
};
std::vector<double> ishigami_quantiles(const Ishigami& f, int input, double x, const QuadratureOptions& q = {});
// W2²(P_Y, P_{Y|X_i = x}) for each x, by the quantile formula (P_Y's quantiles computed once).
std::vector<double> ishigami_w2_squared_quadrature(const Ishigami& f, int input, const std::vector<double>& xs,
                                                   const QuadratureOptions& q = {});

}  // namespace brenier::ot
