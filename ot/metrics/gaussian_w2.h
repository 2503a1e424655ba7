// Closed-form quadratic-cost optimal transport between Gaussians: brenier's ground truth.
//
// For μ = N(m1, Σ1), ν = N(m2, Σ2) with Σ1 ≻ 0 (Dowson & Landau 1982; Olkin & Pukelsheim 1982;
// Givens & Shortt 1984; Peyré & Cuturi, "Computational Optimal Transport", 2019, Remark 2.31):
//   W2²(μ, ν) = ‖m1 − m2‖² + tr Σ1 + tr Σ2 − 2 tr (Σ1^{1/2} Σ2 Σ1^{1/2})^{1/2}
// and the optimal map (the "Bures" map, the gradient of the convex quadratic
// ψ(x) = ½ (x − m1)ᵀ A (x − m1) + m2ᵀ x) is
//   T(x) = m2 + A (x − m1),   A = Σ1^{-1/2} (Σ1^{1/2} Σ2 Σ1^{1/2})^{1/2} Σ1^{-1/2}  (symmetric, ≻ 0).
// A Σ1 A = Σ2, so T pushes μ forward to ν; the inverse map is the Bures map from ν to μ, whose matrix
// is A⁻¹. E_μ‖x − T(x)‖² = W2²(μ, ν).
#pragma once
#include "engine/tensor.h"
#include "ot/samplers/gaussian.h"

namespace brenier::ot {

// x ↦ matrix · x + offset, applied to the rows of a batch.
struct AffineMap {
  Tensor matrix;  // f64 [D, D]
  Tensor offset;  // f64 [D]

  int64_t dim() const { return offset.size(0); }
  // x [n, D] (f32 or f64) → [n, D] in x's dtype (computed in f64).
  Tensor apply(const Tensor& x) const;
  // y ↦ matrix⁻¹ (y − offset); throws when the matrix is singular.
  AffineMap inverse() const;
};

// W2²(source, target) by the closed form above.
double gaussian_w2_squared(const Gaussian& source, const Gaussian& target);

// The optimal (Bures) map T from source to target; bures_map(target, source) is its inverse.
AffineMap bures_map(const Gaussian& source, const Gaussian& target);

}  // namespace brenier::ot
