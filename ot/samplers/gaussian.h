// Gaussian N(m, Σ) on R^D: the one family with a closed-form W2 optimal-transport map (the Bures map,
// ot/metrics/gaussian_w2.h), which makes it brenier's first ground truth for neural OT solvers.
//
// Sampling: x = m + L z with z ~ N(0, I) and L the lower Cholesky factor of Σ (Σ = L Lᵀ), so
// Cov(x) = L Lᵀ = Σ. Rows of the batch are points: X = m + Z Lᵀ.
// random_gaussian draws Σ = Q diag(λ) Qᵀ with Q Haar-distributed orthogonal (QR of a standard normal
// matrix with the signs of R's diagonal fixed; Mezzadri, "How to generate random matrices from the
// classical compact groups", Notices AMS 2007) and λ uniform in [min_eigenvalue, max_eigenvalue],
// so the condition number is bounded (≤ 4 by default) whatever D is.
#pragma once
#include <cstdint>

#include "engine/random/generator.h"
#include "engine/tensor.h"

namespace brenier::ot {

class Gaussian {
 public:
  // `mean` [D] and `cov` [D, D] (f32 or f64; stored as f64 copies). Throws brenier::Error unless
  // the shapes agree, every entry is finite and `cov` is symmetric positive definite.
  Gaussian(const Tensor& mean, const Tensor& cov);

  int64_t dim() const { return mean_.size(0); }
  const Tensor& mean() const { return mean_; }            // f64 [D]
  const Tensor& cov() const { return cov_; }              // f64 [D, D]
  const Tensor& cholesky() const { return cholesky_; }    // f64 [D, D], lower triangular
  // Var(x) = E‖x − m‖² = trace(Σ): the normalizer of L2-UVP (spec §0).
  double total_variance() const;

  // n points [n, D] in `dtype` (computed in f64, then converted).
  Tensor sample(int64_t n, Generator& gen, DType dtype = DType::F32) const;

 private:
  Tensor mean_, cov_, cholesky_;
};

struct RandomGaussianOptions {
  double min_eigenvalue = 0.5;  // spectrum of Σ: uniform in [min, max] (well conditioned)
  double max_eigenvalue = 2.0;
  double mean_std = 1.0;        // mean ~ N(0, mean_std² I)
};

// A random well-conditioned Gaussian on R^dim, reproducible from `gen`'s state.
Gaussian random_gaussian(int64_t dim, Generator& gen, const RandomGaussianOptions& options = {});

}  // namespace brenier::ot
