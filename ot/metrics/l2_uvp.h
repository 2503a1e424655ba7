// Map-quality metrics of the Wasserstein-2 benchmark (Korotin et al., "Do Neural Optimal Transport
// Solvers Work? A Continuous Wasserstein-2 Benchmark", NeurIPS 2021, §4; spec/algorithms.md §0).
//
//   L2-UVP(T̂) = 100 · E_x ‖T̂(x) − T*(x)‖² / Var(ν)     (percent of the target's variance left unexplained)
//   cos(T̂)    = E⟨T*(x) − x, T̂(x) − x⟩ / sqrt( E‖T*(x) − x‖² · E‖T̂(x) − x‖² )   (ratio of averages)
//
// Var(ν) = E‖y − E y‖² = trace of ν's covariance. The same functions score an inverse map Ŝ by
// passing (Ŝ(y), x, Var(μ)) and (y, x, Ŝ(y)). Every expectation is a sample mean over the rows.
// Differences from the benchmark code: it estimates E‖T*(x) − x‖² once on 1024 separate samples; here
// all three averages of cos use the same evaluation samples, so the true map scores exactly 1.
// The identity map scores cos = 0 by the benchmark's convention (its denominator is 0 here too).
// Pure functions on tensors (any float dtype, accumulated in f64); nothing is differentiated.
#pragma once
#include "engine/tensor.h"

namespace brenier::ot {

// 100 · mean_i ‖mapped_i − reference_i‖² / target_variance; mapped and reference are [n, D].
double l2_uvp(const Tensor& mapped, const Tensor& reference, double target_variance);

// cos between the displacements reference − x and mapped − x (all [n, D]); 0 when either
// displacement is identically zero.
double map_cosine(const Tensor& x, const Tensor& reference, const Tensor& mapped);

// trace of the sample covariance of the rows of `samples` [n, D] (n ≥ 2, unbiased 1/(n−1)).
double total_variance(const Tensor& samples);

}  // namespace brenier::ot
