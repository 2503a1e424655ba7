// The W2 benchmark's scores of a forward map T̂ and an inverse map Ŝ, and its three baselines
// (Korotin et al., NeurIPS 2021, §4; shared/data/w2bench/README.md "Metrics"). On pairs
// x_n ~ P, y_n = T*(x_n):
//
//   L2-UVP_fwd = 100 · mean_n ‖T̂(x_n) − y_n‖² / Var(Q)
//   L2-UVP_inv = 100 · mean_n ‖Ŝ(y_n) − x_n‖² / Var(P)
//   cos_fwd    = mean_n ⟨y_n − x_n, T̂(x_n) − x_n⟩ / sqrt(mean_n ‖y_n − x_n‖² · mean_n ‖T̂(x_n) − x_n‖²)
//   cos_inv    = mean_n ⟨x_n − y_n, Ŝ(y_n) − y_n⟩ / sqrt(mean_n ‖x_n − y_n‖² · mean_n ‖Ŝ(y_n) − y_n‖²)
//
// As the README recommends (and unlike upstream's Monte-Carlo estimates): Var(P), Var(Q) are the
// exact values the caller passes (D for the Mix3toMix10 pairs, W2Benchmark::source_variance), and
// mean_n ‖y_n − x_n‖² is taken on the evaluation sample itself (upstream uses 2·cost from 1024
// separate samples), so T* itself scores cos = 1 exactly. cos is a ratio of averages, not an average
// of per-sample cosines. Built on l2_uvp.h (f64 accumulation, any float dtype).
//
// Baselines (upstream's score_baseline_maps), fitted on one sample and scored on another:
//   identity  T̂ = Ŝ = id: L2-UVP computed, cos = 0 by convention (its displacement is zero);
//   constant  T̂ ≡ mean of Q, Ŝ ≡ mean of P (sample means): L2-UVP = 100 by definition, cos computed;
//   linear    the Bures maps between the Gaussians with the fitted means and covariances
//             (gaussian_w2.h): the bar a non-linear solver has to beat.
#pragma once
#include <cstdint>

#include "engine/random/generator.h"
#include "engine/tensor.h"
#include "ot/benchmarks/w2bench.h"

namespace brenier::ot {

struct MapScores {
  double l2uvp_fwd, l2uvp_inv, cos_fwd, cos_inv;  // L2-UVP in percent; NaN for a direction not scored
};

// Scores from x [n, D], y = T*(x), forward_mapped = T̂(x) and inverse_mapped = Ŝ(y). Either mapped
// tensor may be undefined (a solver without that direction): its two scores are then NaN.
MapScores score_maps(const Tensor& x, const Tensor& y, const Tensor& forward_mapped, const Tensor& inverse_mapped,
                     double source_variance, double target_variance);

// The same with the benchmark's exact variances (Var(P) = Var(Q) = D).
MapScores score_maps(const W2Benchmark& bench, const W2Benchmark::Pair& eval, const Tensor& forward_mapped,
                     const Tensor& inverse_mapped = {});

struct BaselineScores {
  MapScores identity, constant, linear;
};

// Fits the constant and linear baselines on the pairs `fit` and scores all three on `eval`.
BaselineScores score_baselines(const W2Benchmark::Pair& fit, const W2Benchmark::Pair& eval, double source_variance,
                               double target_variance);

// Draws `fit_samples` fresh pairs from the benchmark to fit on and scores on `eval`.
BaselineScores score_baselines(const W2Benchmark& bench, int64_t fit_samples, const W2Benchmark::Pair& eval,
                               Generator& gen);

}  // namespace brenier::ot
