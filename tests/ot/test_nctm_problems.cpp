// NCTM's problems with known answers (issue 8): NOT's Swiss roll (ot/samplers/swiss_roll.h) and the Ishigami
// OT sensitivity indices (ot/samplers/ishigami.h).
//   * Swiss roll: the closed-form moments against a Monte Carlo estimate of the raw roll; the standardized
//     sampler's mean 0 / covariance I; its shape (a hole around the roll's centre a Gaussian would fill).
//   * Ishigami: the closed-form variance and conditional moments against Monte Carlo; the sorted 1-D
//     matching against the Hungarian method (ot/discrete/assignment.h); the quadrature reference's quantile
//     functions against the closed-form moments and its own refinement; the exact-OT-on-samples estimator
//     (per-value costs and the index) against the quadrature reference.
#include <doctest/doctest.h>

#include <cmath>
#include <numbers>
#include <numeric>

#include "engine/random/generator.h"
#include "ot/discrete/assignment.h"
#include "ot/samplers/ishigami.h"
#include "ot/samplers/swiss_roll.h"
#include "tests/support/errors.h"

using namespace brenier;

namespace {

constexpr double kPi = std::numbers::pi;

struct Moments2 {
  double mx = 0, my = 0, xx = 0, xy = 0, yy = 0;
};
Moments2 moments(const Tensor& points) {
  const std::vector<double> p = points.to(DType::F64).to_vector<double>();
  const size_t n = p.size() / 2;
  Moments2 m;
  for (size_t i = 0; i < n; ++i) {
    m.mx += p[2 * i];
    m.my += p[2 * i + 1];
  }
  m.mx /= static_cast<double>(n);
  m.my /= static_cast<double>(n);
  for (size_t i = 0; i < n; ++i) {
    const double dx = p[2 * i] - m.mx, dy = p[2 * i + 1] - m.my;
    m.xx += dx * dx;
    m.xy += dx * dy;
    m.yy += dy * dy;
  }
  m.xx /= static_cast<double>(n);
  m.xy /= static_cast<double>(n);
  m.yy /= static_cast<double>(n);
  return m;
}

double mean_of(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size()); }
double variance_of(const std::vector<double>& v) {
  const double m = mean_of(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return s / static_cast<double>(v.size());
}

}  // namespace

TEST_CASE("Swiss roll: closed-form moments match Monte Carlo; the standardized roll has mean 0, covariance I") {
  Generator gen(11);
  const int64_t n = 200000;
  const ot::SwissRollMoments exact = ot::swiss_roll_moments();
  const Moments2 raw = moments(ot::sample_swiss_roll(n, gen, DType::F64, /*standardize=*/false));
  // Sampling error of a mean: sd/√n with sd ≤ 1 (raw variances ≈ 0.7 and 0.9): 4 sd/√n ≈ 0.009.
  CHECK(std::abs(raw.mx - exact.mean[0]) < 0.009);
  CHECK(std::abs(raw.my - exact.mean[1]) < 0.009);
  // A variance estimate's sd ≈ √(2/n)·var·(kurtosis factor ≤ 2) ≈ 0.004 at var ≈ 1: tolerance 0.02.
  CHECK(std::abs(raw.xx - exact.covariance[0]) < 0.02);
  CHECK(std::abs(raw.xy - exact.covariance[1]) < 0.02);
  CHECK(std::abs(raw.yy - exact.covariance[3]) < 0.02);
  CHECK(exact.covariance[1] == exact.covariance[2]);
  const Moments2 st = moments(ot::sample_swiss_roll(n, gen, DType::F64));
  CHECK(std::abs(st.mx) < 0.01);
  CHECK(std::abs(st.my) < 0.01);
  CHECK(std::abs(st.xx - 1) < 0.02);
  CHECK(std::abs(st.xy) < 0.02);
  CHECK(std::abs(st.yy - 1) < 0.02);
}

TEST_CASE("Swiss roll: a spiral with a hole, not a blob") {
  Generator gen(12);
  const std::vector<double> p = ot::sample_swiss_roll(20000, gen, DType::F64, false).to_vector<double>();
  // Raw radius 7.5·‖p‖ = |t + noise| ≥ 1.5π − a few 0.8 noise sds: points within 7.5‖p‖ < 2 are ≥ 3.4 sd out.
  // A Gaussian with the roll's covariance would put ~20 % of its mass there.
  int64_t inner = 0;
  double radius_t = 0;
  for (size_t i = 0; i < p.size() / 2; ++i) {
    const double r = 7.5 * std::hypot(p[2 * i], p[2 * i + 1]);
    inner += r < 2 ? 1 : 0;
    radius_t += r;
  }
  CHECK(inner < 20);
  // E‖t (cos t, sin t) + 0.8 ε‖ ≈ E t = 3π (the noise adds < 0.1 at radius ≥ 4.7).
  CHECK(radius_t / 10000.0 / 2 == doctest::Approx(3 * kPi).epsilon(0.02));
  Generator again(12);
  CHECK(ot::sample_swiss_roll(20000, again, DType::F64, false).to_vector<double>() == p);
  CHECK_THROWS_WITH_AS(ot::sample_swiss_roll(0, gen), doctest::Contains("'n' must be >= 1"), Error);
  CHECK_THROWS_WITH_AS(ot::sample_swiss_roll(3, gen, DType::I64), doctest::Contains("'dtype' must be f32 or f64"), Error);
}

TEST_CASE("Ishigami: closed-form variance and conditional moments match Monte Carlo") {
  const ot::Ishigami f;
  Generator gen(21);
  const std::vector<double> y = ot::ishigami_outputs(f, 400000, gen);
  // Var Y ≈ 13.84 (the textbook value); its estimate's sd ≈ √(Var((Y−m)²)/n) < 0.05 here.
  CHECK(f.variance() == doctest::Approx(13.8446).epsilon(1e-4));
  CHECK(variance_of(y) == doctest::Approx(f.variance()).epsilon(0.01));
  CHECK(mean_of(y) == doctest::Approx(f.mean()).epsilon(0.005));
  for (int input = 0; input < 3; ++input)
    for (double x : {-2.5, 0.4, 1.9}) {
      CAPTURE(input);
      CAPTURE(x);
      const std::vector<double> yc = ot::ishigami_conditional_outputs(f, input, x, 200000, gen);
      CHECK(std::abs(mean_of(yc) - f.conditional_mean(input, x)) < 4 * std::sqrt(f.conditional_variance(input, x) / 2e5));
      CHECK(variance_of(yc) == doctest::Approx(f.conditional_variance(input, x)).epsilon(0.03));
    }
  // First-order Sobol indices (Var E[Y|X_i] / Var Y), the textbook 0.3139, 0.4424, 0: the means are right.
  const std::vector<double> grid = ot::sensitivity_grid(4000);
  for (auto [input, sobol] : std::vector<std::pair<int, double>>{{0, 0.3139}, {1, 0.4424}, {2, 0.0}}) {
    double v = 0;
    for (double x : grid) v += std::pow(f.conditional_mean(input, x) - f.mean(), 2);
    CHECK(v / 4000.0 / f.variance() == doctest::Approx(sobol).epsilon(0.0005 / std::max(sobol, 0.01)));
  }
}

TEST_CASE("w2_squared_1d: the sorted matching equals the Hungarian method's exact cost") {
  Generator gen(31);
  for (int64_t n : {1, 7, 60}) {
    const Tensor a = gen.normal({n, 1}, 0, 1, DType::F64), b = (gen.uniform({n, 1}, -1, 3, DType::F64));
    const double hungarian = ot::exact_ot_uniform(a, b).w2_squared;
    CHECK(ot::w2_squared_1d(a.to_vector<double>(), b.to_vector<double>()) == doctest::Approx(hungarian).epsilon(1e-12));
  }
  CHECK_THROWS_WITH_AS(ot::w2_squared_1d({1.0}, {1.0, 2.0}), doctest::Contains("equal size"), Error);
  CHECK_THROWS_WITH_AS(ot::w2_squared_1d({}, {}), doctest::Contains("non-empty"), Error);
}

TEST_CASE("Ishigami quadrature: quantile functions have the closed-form means and variances") {
  // Measured when this was written: means within 1e-5, variances within 3e-4 relative. Refining the default
  // quadrature (128 nodes, 2048 CDF points, 2048 levels) to (256, 4096, 4096) moved W2²(P_Y, P_{Y|X_i = x}) by
  // at most 1.3e-3 (6e-4 relative) over x ∈ {−2.9, −1, 0.2, 1.6, 2.5} and the three inputs.
  const ot::Ishigami f;
  for (auto [input, x] : std::vector<std::pair<int, double>>{
           {-1, 0.0}, {0, 0.7}, {0, -2.0}, {0, 0.0}, {1, 1.1}, {2, 0.3}, {2, 2.8}}) {
    CAPTURE(input);
    CAPTURE(x);
    const std::vector<double> q = ot::ishigami_quantiles(f, input, x);
    const double m = input < 0 ? f.mean() : f.conditional_mean(input, x);
    const double v = input < 0 ? f.variance() : f.conditional_variance(input, x);
    CHECK(std::abs(mean_of(q) - m) < 1e-3);
    CHECK(variance_of(q) == doctest::Approx(v).epsilon(2e-3));
  }
  CHECK_THROWS_WITH_AS(ot::ishigami_quantiles(f, 3, 0.0), doctest::Contains("'input' must be 0, 1 or 2"), Error);
  CHECK_THROWS_WITH_AS(ot::ishigami_w2_squared_quadrature(f, -1, {0.0}), doctest::Contains("'input'"), Error);
}

TEST_CASE("exact_ot_sensitivity: per-value costs and indices match the quadrature reference") {
  // n = 16384 samples per measure. Over seeds 1–3 (measured) the index differed from the quadrature's by at
  // most 0.0037 and a per-value cost by at most 0.27 (costs 1–14): the per-value W2² fluctuates by about
  // 2·W2·sd(Y)/√n ≈ 0.1, and the index averages 16 of them (correlated through the common P_Y sample).
  // Tolerances: 0.01 on the index (indices 0.09–0.27) and Pearson ρ > 0.99 over the 16 grid values.
  const ot::Ishigami f;
  const std::vector<double> marginal = ot::ishigami_quantiles(f, -1, 0.0);
  const std::vector<double> expected_index{0.2008, 0.2749, 0.0893};  // the quadrature's, measured (checked below)
  for (int input = 0; input < 3; ++input) {
    CAPTURE(input);
    Generator gen(static_cast<uint64_t>(40 + input));
    const ot::OtSensitivity s = ot::exact_ot_sensitivity(f, input, 16, 16384, gen);
    REQUIRE(s.costs.size() == 16);
    std::vector<double> ref;
    for (double x : s.grid) {
      const std::vector<double> q = ot::ishigami_quantiles(f, input, x);
      double total = 0;
      for (size_t k = 0; k < q.size(); ++k) total += (q[k] - marginal[k]) * (q[k] - marginal[k]);
      ref.push_back(total / static_cast<double>(q.size()));
    }
    const double ref_index = mean_of(ref) / (2 * f.variance());
    CHECK(ref_index == doctest::Approx(expected_index[static_cast<size_t>(input)]).epsilon(1e-3));
    CHECK(std::abs(s.index - ref_index) < 0.01);
    double sxy = 0;
    const double ms = mean_of(s.costs), mr = mean_of(ref);
    for (size_t k = 0; k < ref.size(); ++k) sxy += (s.costs[k] - ms) * (ref[k] - mr);
    const double rho = sxy / static_cast<double>(ref.size()) / std::sqrt(variance_of(s.costs) * variance_of(ref));
    CHECK(rho > 0.99);
    // Every per-value cost is at least the 1-D Gelbrich bound (Δ mean)² + (Δ sd)² of the closed forms.
    for (size_t k = 0; k < ref.size(); ++k) {
      const double x = s.grid[k];
      const double bound = std::pow(f.conditional_mean(input, x) - f.mean(), 2) +
                           std::pow(std::sqrt(f.conditional_variance(input, x)) - std::sqrt(f.variance()), 2);
      CHECK(ref[k] >= bound - 1e-3);
    }
  }
  Generator gen(1);
  CHECK_THROWS_WITH_AS(ot::exact_ot_sensitivity(f, 5, 16, 10, gen), doctest::Contains("'input' must be 0, 1 or 2"),
                       Error);
  CHECK_THROWS_WITH_AS(ot::exact_ot_sensitivity(f, 0, 0, 10, gen), doctest::Contains("'grid_size' must be >= 1"), Error);
}
