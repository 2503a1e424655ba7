// NOT's Swiss roll, standardized with its exact moments (see swiss_roll.h).
#include "ot/samplers/swiss_roll.h"

#include <cmath>
#include <numbers>
#include <vector>

#include "engine/error.h"

namespace brenier::ot {
namespace {

constexpr double kPi = std::numbers::pi;
constexpr double kStart = 1.5 * kPi, kStop = 4.5 * kPi;  // sklearn: t = 1.5π (1 + 2U)
constexpr double kNoise = 0.8, kDivisor = 7.5;           // NOT_toy_2D: noise 0.8, / 7.5

}  // namespace

SwissRollMoments swiss_roll_moments() {
  // With t ~ U[a, b], a = 1.5π, b = 4.5π, L = b − a = 3π (antiderivatives evaluated at sin b = 1, sin a = −1,
  // cos a = cos b = 0, cos 2a = cos 2b = −1, sin 2a = sin 2b = 0):
  //   E t cos t = [t sin t + cos t]/L = 6π/3π = 2,  E t sin t = [−t cos t + sin t]/L = 2/(3π),
  //   E t² cos² t = ((b³ − a³)/3 − 1.5π)/(2L),  E t² sin² t = ((b³ − a³)/3 + 1.5π)/(2L),
  //   E t² sin t cos t = 9π²/(2L) = 1.5π.
  const double length = kStop - kStart;
  const double cube = (kStop * kStop * kStop - kStart * kStart * kStart) / 3.0;
  const double m0 = 2.0, m1 = 2.0 / (3.0 * kPi);
  const double xx = (cube - 1.5 * kPi) / (2 * length), yy = (cube + 1.5 * kPi) / (2 * length), xy = 1.5 * kPi;
  const double s2 = 1.0 / (kDivisor * kDivisor);
  SwissRollMoments m;
  m.mean = {m0 / kDivisor, m1 / kDivisor};
  m.covariance = {(xx - m0 * m0 + kNoise * kNoise) * s2, (xy - m0 * m1) * s2, (xy - m0 * m1) * s2,
                  (yy - m1 * m1 + kNoise * kNoise) * s2};
  return m;
}

Tensor sample_swiss_roll(int64_t n, Generator& gen, DType dtype, bool standardize) {
  BRENIER_CHECK(n >= 1, "sample_swiss_roll: argument 'n' must be >= 1, got {}", n);
  BRENIER_CHECK(dtype == DType::F32 || dtype == DType::F64,
                "sample_swiss_roll: argument 'dtype' must be f32 or f64, got {}", dtype_name(dtype));
  const std::vector<double> u = gen.uniform({n}, 0.0, 1.0, DType::F64).to_vector<double>();
  const std::vector<double> z = gen.normal({2 * n}, 0.0, 1.0, DType::F64).to_vector<double>();
  // Whitening W = C^{-1/2} (symmetric) of the 2×2 covariance C = V diag(λ) Vᵀ, in closed form.
  const SwissRollMoments m = swiss_roll_moments();
  const double c00 = m.covariance[0], c01 = m.covariance[1], c11 = m.covariance[3];
  const double half_trace = 0.5 * (c00 + c11), gap = std::sqrt(0.25 * (c00 - c11) * (c00 - c11) + c01 * c01);
  const double l0 = half_trace + gap, l1 = half_trace - gap;
  const double angle = 0.5 * std::atan2(2 * c01, c00 - c11);  // eigenvector of l0: (cos, sin)
  const double ca = std::cos(angle), sa = std::sin(angle), r0 = 1 / std::sqrt(l0), r1 = 1 / std::sqrt(l1);
  const double w00 = ca * ca * r0 + sa * sa * r1, w01 = ca * sa * (r0 - r1), w11 = sa * sa * r0 + ca * ca * r1;
  std::vector<double> out(static_cast<size_t>(2 * n));
  for (int64_t i = 0; i < n; ++i) {
    const size_t k = static_cast<size_t>(i);
    const double t = kStart + (kStop - kStart) * u[k];
    const double px = (t * std::cos(t) + kNoise * z[2 * k]) / kDivisor;
    const double py = (t * std::sin(t) + kNoise * z[2 * k + 1]) / kDivisor;
    if (standardize) {
      const double dx = px - m.mean[0], dy = py - m.mean[1];
      out[2 * k] = w00 * dx + w01 * dy;
      out[2 * k + 1] = w01 * dx + w11 * dy;
    } else {
      out[2 * k] = px;
      out[2 * k + 1] = py;
    }
  }
  return Tensor::from_vector(out, {n, 2}).to(dtype);
}

}  // namespace brenier::ot
