// Gaussian ground truth and map metrics: sampling moments, the Bures map and W2² against independent
// closed forms (diagonal and rotated-diagonal cases) and against Monte Carlo transport costs, and
// L2-UVP / cosine on hand-computed examples and on the true, identity and constant maps.
#include <doctest/doctest.h>

#include "tests/support/errors.h"

#include <cmath>
#include <string>
#include <vector>

#include "ot/metrics/gaussian_w2.h"
#include "ot/metrics/l2_uvp.h"
#include "ot/samplers/gaussian.h"
#include "tests/ot/reference.h"

using namespace brenier;
using namespace brenier::ot;

namespace {

Tensor f64(const std::vector<double>& v, const Shape& s) { return Tensor::from_vector(v, s); }

Gaussian diagonal_gaussian(const std::vector<double>& mean, const std::vector<double>& variances) {
  const int64_t d = static_cast<int64_t>(mean.size());
  std::vector<double> cov(d * d, 0.0);
  for (int64_t i = 0; i < d; ++i) cov[i * d + i] = variances[i];
  return Gaussian(f64(mean, {d}), f64(cov, {d, d}));
}

void check_abs(const std::vector<double>& got, const std::vector<double>& expected, double tol) {
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(std::abs(got[i] - expected[i]) <= tol);
}

// E‖x − T(x)‖² for x ~ N(m, Σ) and T(x) = A x + b, in closed form:
// x − T(x) = (I − A)(x − m) + (m − T(m))  ⇒  tr((I − A) Σ (I − A)ᵀ) + ‖m − T(m)‖².
double affine_transport_cost(const Gaussian& g, const AffineMap& map) {
  const int64_t d = g.dim();
  std::vector<double> a = map.matrix.to_vector<double>(), b = map.offset.to_vector<double>();
  std::vector<double> s = g.cov().to_vector<double>(), m = g.mean().to_vector<double>();
  std::vector<double> e(d * d);  // I − A
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j) e[i * d + j] = (i == j ? 1.0 : 0.0) - a[i * d + j];
  double trace = 0;
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j)
      for (int64_t k = 0; k < d; ++k) trace += e[i * d + j] * s[j * d + k] * e[i * d + k];
  double shift = 0;
  for (int64_t i = 0; i < d; ++i) {
    double tm = b[i];
    for (int64_t j = 0; j < d; ++j) tm += a[i * d + j] * m[j];
    shift += (m[i] - tm) * (m[i] - tm);
  }
  return trace + shift;
}

}  // namespace

TEST_CASE("ot: Gaussian validates its mean and covariance") {
  Tensor m = f64({0, 0}, {2});
  CHECK(error_of([&] { Gaussian(m, f64({1, 0, 0, 1, 0, 0}, {3, 2})); }).find("'cov' must be [2, 2]") != std::string::npos);
  CHECK(error_of([&] { Gaussian(m, f64({1, 0.5, 0, 1}, {2, 2})); }).find("symmetric") != std::string::npos);
  CHECK(error_of([&] { Gaussian(m, f64({1, 2, 2, 1}, {2, 2})); }).find("positive definite") != std::string::npos);
  CHECK(error_of([&] { Gaussian(f64({0, NAN}, {2}), f64({1, 0, 0, 1}, {2, 2})); }).find("'mean' must be finite") !=
        std::string::npos);
  CHECK(error_of([&] { Gaussian(m, f64({1, 0, 0, INFINITY}, {2, 2})); }).find("'cov' must be finite") != std::string::npos);
  CHECK(error_of([&] { Gaussian(Tensor::from_vector(std::vector<int64_t>{0, 0}), f64({1, 0, 0, 1}, {2, 2})); })
            .find("'mean' must be f32 or f64") != std::string::npos);
  Generator gen(0);
  CHECK(error_of([&] { random_gaussian(0, gen); }).find("'dim' must be >= 1") != std::string::npos);
  Gaussian ok(m, f64({2, 0.5, 0.5, 1}, {2, 2}));
  CHECK(ok.dim() == 2);
  CHECK(ok.total_variance() == doctest::Approx(3.0));
}

TEST_CASE("ot: Gaussian samples have the requested mean and covariance") {
  Generator gen(11);
  Gaussian g = random_gaussian(3, gen);
  // Spectrum of the random covariance within [0.5, 2] (RandomGaussianOptions defaults).
  for (double l : ot_test::symmetric_eigenvalues(g.cov().to_vector<double>(), 3)) {
    CHECK(l >= 0.5 - 1e-12);
    CHECK(l <= 2.0 + 1e-12);
  }
  // Cholesky factor reproduces Σ.
  std::vector<double> l = g.cholesky().to_vector<double>(), s = g.cov().to_vector<double>();
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      double llt = 0;
      for (int k = 0; k < 3; ++k) llt += l[i * 3 + k] * l[j * 3 + k];
      CHECK(std::abs(llt - s[i * 3 + j]) < 1e-12);
    }
  // 200k samples: standard errors ≈ sqrt(2/2e5) = 0.003 (mean) and ≤ sqrt(8/2e5) = 0.006 (covariance);
  // the tolerances are ~5 of them.
  Tensor x = g.sample(200000, gen, DType::F64);
  CHECK(x.shape() == Shape{200000, 3});
  ot_test::Moments mom = ot_test::sample_moments(x);
  check_abs(mom.mean, g.mean().to_vector<double>(), 0.015);
  check_abs(mom.cov, s, 0.03);
  CHECK(g.sample(10, gen).dtype() == DType::F32);
}

TEST_CASE("ot: Bures map and W2² match independent closed forms") {
  SUBCASE("diagonal covariances") {
    // Commuting covariances: A = diag(sqrt(b_i / a_i)), W2² = ‖Δm‖² + Σ (√a_i − √b_i)².
    Gaussian mu = diagonal_gaussian({1, -2, 0.5}, {4, 1, 0.25});
    Gaussian nu = diagonal_gaussian({0, 1, 2}, {1, 9, 1});
    double expected = 1 + 9 + 2.25 + (2 - 1) * (2 - 1) + (1 - 3) * (1 - 3) + (0.5 - 1) * (0.5 - 1);
    CHECK(gaussian_w2_squared(mu, nu) == doctest::Approx(expected).epsilon(1e-12));
    AffineMap t = bures_map(mu, nu);
    check_abs(t.matrix.to_vector<double>(), {0.5, 0, 0, 0, 3, 0, 0, 0, 2}, 1e-12);
    check_abs(t.offset.to_vector<double>(), {0 - 0.5 * 1, 1 - 3 * -2, 2 - 2 * 0.5}, 1e-12);
  }
  SUBCASE("identity to a rotated ellipse") {
    // Σ1 = I, Σ2 = R diag(λ) Rᵀ: A = Σ2^{1/2} = R diag(√λ) Rᵀ and W2² = ‖Δm‖² + Σ (1 − √λ_i)².
    const double th = 0.7, c = std::cos(th), s = std::sin(th), l1 = 4.0, l2 = 0.25;
    auto rot = [&](double a, double b) {  // R diag(a, b) Rᵀ, row-major
      return std::vector<double>{c * c * a + s * s * b, c * s * (a - b), c * s * (a - b), s * s * a + c * c * b};
    };
    Gaussian mu(f64({0, 0}, {2}), f64({1, 0, 0, 1}, {2, 2}));
    Gaussian nu(f64({1, 1}, {2}), f64(rot(l1, l2), {2, 2}));
    CHECK(gaussian_w2_squared(mu, nu) == doctest::Approx(2 + 1 + 0.25).epsilon(1e-12));
    AffineMap t = bures_map(mu, nu);
    check_abs(t.matrix.to_vector<double>(), rot(2.0, 0.5), 1e-12);
    check_abs(t.offset.to_vector<double>(), {1, 1}, 1e-12);
  }
  SUBCASE("identical Gaussians") {
    Generator gen(3);
    Gaussian g = random_gaussian(4, gen);
    CHECK(gaussian_w2_squared(g, g) == doctest::Approx(0.0).scale(1.0).epsilon(1e-12));
    AffineMap t = bures_map(g, g);
    check_abs(t.matrix.to_vector<double>(), {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}, 1e-10);
  }
  SUBCASE("dimension mismatch") {
    Generator gen(3);
    CHECK(error_of([&] { bures_map(random_gaussian(2, gen), random_gaussian(3, gen)); })
              .find("bures_map: arguments 'source' and 'target' must have the same dimension") != std::string::npos);
  }
}

TEST_CASE("ot: Bures map pushes N(m1, Σ1) forward to N(m2, Σ2) at the W2² cost") {
  Generator gen(5);
  const int64_t d = 4;
  Gaussian mu = random_gaussian(d, gen), nu = random_gaussian(d, gen);
  AffineMap t = bures_map(mu, nu);
  std::vector<double> a = t.matrix.to_vector<double>(), s1 = mu.cov().to_vector<double>(),
                      s2 = nu.cov().to_vector<double>();
  // Exact algebra: A symmetric positive definite (the Hessian of a convex potential) and A Σ1 A = Σ2.
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < d; ++j) {
      CHECK(std::abs(a[i * d + j] - a[j * d + i]) < 1e-12);
      double asa = 0;
      for (int k = 0; k < d; ++k)
        for (int l = 0; l < d; ++l) asa += a[i * d + k] * s1[k * d + l] * a[l * d + j];
      CHECK(std::abs(asa - s2[i * d + j]) < 1e-10);
    }
  CHECK(ot_test::min_eigenvalue(a, d) > 0);
  // Its transport cost in closed form equals the W2² formula.
  const double w2 = gaussian_w2_squared(mu, nu);
  CHECK(affine_transport_cost(mu, t) == doctest::Approx(w2).epsilon(1e-10));
  // Large-sample check: moments of T(x) and the Monte Carlo cost (standard errors as in the
  // sampling test; the cost's relative error is ≈ 0.3%, tolerance 2%).
  Tensor x = mu.sample(200000, gen, DType::F64);
  Tensor y = t.apply(x);
  ot_test::Moments mom = ot_test::sample_moments(y);
  check_abs(mom.mean, nu.mean().to_vector<double>(), 0.015);
  check_abs(mom.cov, s2, 0.03);
  CHECK(l2_uvp(x, y, 100.0) == doctest::Approx(w2).epsilon(0.02));  // 100·E‖x − T x‖²/100
  // f32 batches stay f32.
  CHECK(t.apply(mu.sample(8, gen)).dtype() == DType::F32);
  CHECK(error_of([&] { t.apply(f64({1, 2, 3}, {1, 3})); }).find("'x' must be a floating [n, 4] batch") !=
        std::string::npos);
}

TEST_CASE("ot: the inverse Bures map is the Bures map back and undoes the forward map") {
  Generator gen(8);
  Gaussian mu = random_gaussian(3, gen), nu = random_gaussian(3, gen);
  AffineMap t = bures_map(mu, nu), back = bures_map(nu, mu), inv = t.inverse();
  check_abs(back.matrix.to_vector<double>(), inv.matrix.to_vector<double>(), 1e-10);
  check_abs(back.offset.to_vector<double>(), inv.offset.to_vector<double>(), 1e-10);
  Tensor x = mu.sample(50, gen, DType::F64);
  check_abs(back.apply(t.apply(x)).to_vector<double>(), x.to_vector<double>(), 1e-10);
  CHECK(gaussian_w2_squared(mu, nu) == doctest::Approx(gaussian_w2_squared(nu, mu)).epsilon(1e-10));
  AffineMap singular{f64({1, 0, 0, 0}, {2, 2}), f64({0, 0}, {2})};
  CHECK(error_of([&] { singular.inverse(); }).find("must be invertible") != std::string::npos);
}

TEST_CASE("ot: L2-UVP, cosine and total variance on hand-computed examples") {
  Tensor x = f64({0, 0, 1, 0}, {2, 2});
  Tensor ref = f64({1, 0, 1, 1}, {2, 2});
  Tensor mapped = f64({1, 1, 1, 0}, {2, 2});
  // ‖mapped − ref‖² per row: 1, 1 → mean 1 → 100 · 1 / 2.
  CHECK(l2_uvp(mapped, ref, 2.0) == doctest::Approx(50.0));
  // Displacements: ref − x = (1,0), (0,1); mapped − x = (1,1), (0,0): ⟨·,·⟩ sums to 1, norms² 2 and 2.
  CHECK(map_cosine(x, ref, mapped) == doctest::Approx(0.5));
  CHECK(map_cosine(x, ref, x) == 0.0);  // identity: cos = 0 by convention
  // Columns {0, 2, 0}: unbiased variance 4/3 each, total 8/3.
  CHECK(total_variance(f64({0, 0, 2, 0, 0, 2}, {3, 2})) == doctest::Approx(8.0 / 3.0));
  CHECK(l2_uvp(mapped.to(DType::F32), ref, 2.0) == doctest::Approx(50.0));
  CHECK(error_of([&] { l2_uvp(mapped, f64({1, 2, 3}, {1, 3}), 1.0); }).find("same shape") != std::string::npos);
  CHECK(error_of([&] { l2_uvp(mapped, ref, 0.0); }).find("'target_variance' must be finite and > 0") !=
        std::string::npos);
  CHECK(error_of([&] { total_variance(f64({1, 2}, {1, 2})); }).find("at least 2 rows") != std::string::npos);
}

TEST_CASE("ot: L2-UVP and cosine of the true, identity and constant maps") {
  Generator gen(21);
  Gaussian mu = random_gaussian(3, gen), nu = random_gaussian(3, gen);
  AffineMap t = bures_map(mu, nu);
  Tensor x = mu.sample(100000, gen, DType::F64);
  Tensor tx = t.apply(x);
  const double var_nu = nu.total_variance();
  CHECK(l2_uvp(tx, tx, var_nu) == 0.0);
  CHECK(map_cosine(x, tx, tx) == doctest::Approx(1.0).epsilon(1e-12));
  // Identity: E‖x − T(x)‖² = W2², so L2-UVP(id) = 100 · W2² / Var(ν) (Monte Carlo, 2% tolerance).
  CHECK(l2_uvp(x, tx, var_nu) == doctest::Approx(100.0 * gaussian_w2_squared(mu, nu) / var_nu).epsilon(0.02));
  // Constant map to ν's mean: E‖m2 − T(x)‖² = Var(ν), so 100 by construction.
  std::vector<double> m2 = nu.mean().to_vector<double>(), rows;
  for (int i = 0; i < 100000; ++i) rows.insert(rows.end(), m2.begin(), m2.end());
  CHECK(l2_uvp(f64(rows, {100000, 3}), tx, var_nu) == doctest::Approx(100.0).epsilon(0.02));
  // The sample total variance of ν agrees with trace(Σ2).
  CHECK(total_variance(tx) == doctest::Approx(var_nu).epsilon(0.02));
}
