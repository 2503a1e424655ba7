// NOT's Swiss roll (spec/algorithms.md §5.1, the NOT_toy_2D notebook): the unconditional 2-D target of
// NCTM's sanity checks (spec §7 item 4). The notebook draws sklearn's make_swiss_roll(noise = 0.8), keeps
// coordinates [0, 2] and divides by 7.5:
//   t ~ U[1.5π, 4.5π],  p = (t cos t + 0.8 ε₁, t sin t + 0.8 ε₂) / 7.5,  ε ~ N(0, I₂),
// then standardizes. The notebook fits its scaler on a sample; we whiten with the exact mean and covariance
// of p (closed forms in swiss_roll.cpp), so the standardized roll has mean 0 and covariance I exactly.
// A separate file from toy2d.h (DIOTM's samplers) so their behaviour stays untouched.
#pragma once
#include <array>
#include <cstdint>

#include "engine/random/generator.h"
#include "engine/tensor.h"

namespace brenier::ot {

// n points [n, 2] (n >= 1) in `dtype` (f32 or f64; computed in f64); `standardize` = false returns p itself.
Tensor sample_swiss_roll(int64_t n, Generator& gen, DType dtype = DType::F32, bool standardize = true);

// The exact mean and covariance of the unstandardized roll p (row-major 2×2), from t's uniform law.
struct SwissRollMoments {
  std::array<double, 2> mean;
  std::array<double, 4> covariance;
};
SwissRollMoments swiss_roll_moments();

}  // namespace brenier::ot
