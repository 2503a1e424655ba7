// HOTET's Gaussian-mixture family (spec §1.7): sample moments against the analytic mean and
// covariance (per component, via the returned labels, and for the whole mixture), chunked component
// draws, the Wishart mean (D + 5) I, the component-wise Bures map pushing source component k onto
// target component k (moments), its inverse, and argument errors. Moment tolerances are a few Monte
// Carlo standard errors: loose, yet a wrong factor (Lᵀ vs L, a missing mean, a swapped component)
// moves the moments by far more.
#include <doctest/doctest.h>

#include "tests/support/errors.h"

#include <cmath>
#include <string>
#include <vector>

#include "ot/samplers/gaussian_mixture.h"

using namespace brenier;
using namespace brenier::ot;

namespace {

using Vec = std::vector<double>;

bool contains_text(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Sample mean [D] and covariance [D·D] (1/n) of the rows of x [n, D] whose label is k (k < 0: all rows).
void moments(const Vec& x, const std::vector<int64_t>& labels, int64_t d, int64_t k, Vec& mean, Vec& cov,
             int64_t& count) {
  mean.assign(d, 0.0);
  cov.assign(d * d, 0.0);
  count = 0;
  const int64_t n = static_cast<int64_t>(labels.size());
  for (int64_t i = 0; i < n; ++i) {
    if (k >= 0 && labels[i] != k) continue;
    ++count;
    for (int64_t a = 0; a < d; ++a) mean[a] += x[i * d + a];
  }
  for (double& m : mean) m /= static_cast<double>(count);
  for (int64_t i = 0; i < n; ++i) {
    if (k >= 0 && labels[i] != k) continue;
    for (int64_t a = 0; a < d; ++a)
      for (int64_t b = 0; b < d; ++b) cov[a * d + b] += (x[i * d + a] - mean[a]) * (x[i * d + b] - mean[b]);
  }
  for (double& c : cov) c /= static_cast<double>(count);
}

// max |got − expected| / scale over entries, scale = sqrt of the expected covariance's diagonal product
// (the entries' natural size), so one tolerance fits means and covariances.
double max_rel_cov_error(const Vec& got, const Vec& expected, int64_t d) {
  double worst = 0;
  for (int64_t a = 0; a < d; ++a)
    for (int64_t b = 0; b < d; ++b) {
      const double scale = std::sqrt(expected[a * d + a] * expected[b * d + b]);
      worst = std::max(worst, std::abs(got[a * d + b] - expected[a * d + b]) / scale);
    }
  return worst;
}

double max_mean_error(const Vec& got, const Vec& expected, const Vec& cov, int64_t d) {
  double worst = 0;
  for (int64_t a = 0; a < d; ++a) worst = std::max(worst, std::abs(got[a] - expected[a]) / std::sqrt(cov[a * d + a]));
  return worst;
}

}  // namespace

TEST_CASE("Wishart(D + 5, I) draws average (D + 5) I") {
  const int64_t d = 3, df = d + 5, draws = 4000;
  Generator gen(11);
  Vec sum(d * d, 0.0);
  for (int64_t i = 0; i < draws; ++i) {
    const Vec s = sample_wishart(d, df, gen).to_vector<double>();
    for (int64_t j = 0; j < d * d; ++j) sum[j] += s[j];
  }
  // Var of a diagonal entry = 2 df, of an off-diagonal one df: standard errors ≈ sqrt(16 / 4000) = 0.063.
  for (int64_t a = 0; a < d; ++a)
    for (int64_t b = 0; b < d; ++b) CHECK(std::abs(sum[a * d + b] / draws - (a == b ? df : 0.0)) < 0.35);
  CHECK(contains_text(error_of([&] { sample_wishart(4, 3, gen); }), "'df' must be >= dim"));
}

TEST_CASE("Mixture samples match the analytic moments, per component and overall") {
  const int64_t d = 3, n = 60000;
  Generator gen(5);
  const GaussianMixture mix = random_gaussian_mixture(d, gen);
  REQUIRE(mix.num_components() == 3);
  CHECK(mix.weights() == Vec{0.3, 0.3, 0.4});
  for (const Gaussian& g : mix.components())
    for (double m : g.mean().to_vector<double>()) CHECK((m >= 0.0 && m < 3.0));

  const GaussianMixture::Sample s = mix.sample(n, gen, /*inner_batch=*/32, DType::F64);
  const Vec x = s.points.to_vector<double>();
  const std::vector<int64_t> labels = s.components.to_vector<int64_t>();
  // Chunks of 32 share one component.
  for (int64_t i = 0; i < n; ++i) CHECK_EQ(labels[i], labels[(i / 32) * 32]);

  Vec mean, cov;
  int64_t count = 0;
  for (int64_t k = 0; k < 3; ++k) {
    moments(x, labels, d, k, mean, cov, count);
    // Chunk counts are multinomial over n / 32 = 1875 chunks: weight within ±4 standard errors (0.045).
    CHECK(std::abs(static_cast<double>(count) / n - mix.weights()[k]) < 0.045);
    const Vec m_true = mix.component(k).mean().to_vector<double>(), c_true = mix.component(k).cov().to_vector<double>();
    // Standard error of a mean ≈ σ / sqrt(18000) ≈ 0.0075σ; of a covariance entry ≈ 0.01 in relative units.
    CHECK(max_mean_error(mean, m_true, c_true, d) < 0.04);
    CHECK(max_rel_cov_error(cov, c_true, d) < 0.06);
  }
  // The whole mixture: the chunked component draw makes the sample a cluster sample (more variable),
  // so the tolerances are wider; a missing m mᵀ term in cov() would be off by ≥ 20 %.
  moments(x, labels, d, -1, mean, cov, count);
  const Vec m_all = mix.mean().to_vector<double>(), c_all = mix.cov().to_vector<double>();
  CHECK(max_mean_error(mean, m_all, c_all, d) < 0.06);
  CHECK(max_rel_cov_error(cov, c_all, d) < 0.1);
  double trace = 0;
  for (int64_t a = 0; a < d; ++a) trace += c_all[a * d + a];
  CHECK(mix.total_variance() == doctest::Approx(trace).epsilon(1e-12));
}

TEST_CASE("The component-wise Bures map pushes source component k onto target component k") {
  const int64_t d = 4, n = 40000;
  Generator gen(9);
  const GaussianMixture source = random_gaussian_mixture(d, gen), target = random_gaussian_mixture(d, gen);
  const ComponentwiseBuresMap map(source, target);
  const GaussianMixture::Sample s = source.sample(n, gen, 64, DType::F64);
  const Tensor y = map.apply(s.points, s.components);
  const Vec yv = y.to_vector<double>();
  const std::vector<int64_t> labels = s.components.to_vector<int64_t>();
  Vec mean, cov;
  int64_t count = 0;
  for (int64_t k = 0; k < 3; ++k) {
    moments(yv, labels, d, k, mean, cov, count);
    const Vec m_true = target.component(k).mean().to_vector<double>();
    const Vec c_true = target.component(k).cov().to_vector<double>();
    CHECK(max_mean_error(mean, m_true, c_true, d) < 0.05);
    CHECK(max_rel_cov_error(cov, c_true, d) < 0.08);
  }
  // The inverse brings the points back (f64 rounding only), and f32 input stays f32.
  const Vec back = map.inverse().apply(y, s.components).to_vector<double>();
  const Vec xv = s.points.to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < xv.size(); ++i) worst = std::max(worst, std::abs(back[i] - xv[i]));
  CHECK(worst < 1e-9);
  CHECK(map.apply(s.points.to(DType::F32), s.components).dtype() == DType::F32);

  CHECK(contains_text(error_of([&] { map.apply(s.points, Tensor::zeros({3}, DType::I64)); }), "'components' must be"));
  CHECK(contains_text(error_of([&] { map.apply(Tensor::zeros({2, 3}, DType::F64), Tensor::zeros({2}, DType::I64)); }),
                      "'x' must be"));
  const std::vector<int64_t> bad{0, 7};
  CHECK(contains_text(error_of([&] { map.apply(Tensor::zeros({2, d}, DType::F64), Tensor::from_vector(bad, {2})); }),
                      "values in [0, 3)"));
}

TEST_CASE("Mixture argument errors") {
  Generator gen(1);
  const GaussianMixture mix = random_gaussian_mixture(2, gen);
  CHECK(contains_text(error_of([&] { mix.sample(10, gen, 0); }), "'inner_batch' must be >= 1"));
  CHECK(contains_text(error_of([&] { mix.sample(-1, gen); }), "'n' must be >= 0"));
  CHECK(mix.sample(0, gen).points.shape() == Shape{0, 2});
  CHECK(contains_text(error_of([&] { GaussianMixture({mix.component(0)}, {0.5, 0.5}); }), "one weight per component"));
  CHECK(contains_text(error_of([&] { GaussianMixture({mix.component(0)}, {-1.0}); }), "positive and finite"));
  Generator gen3(2);
  const GaussianMixture other = random_gaussian_mixture(3, gen3);
  CHECK(contains_text(error_of([&] { ComponentwiseBuresMap(mix, other); }), "share dim"));
}

TEST_CASE("The conditional mean E[T*(x) | x] is exact for separated components and optimal otherwise") {
  const int64_t d = 2, n = 20000;
  Generator gen(13);
  GaussianMixture source = random_gaussian_mixture(d, gen), target = random_gaussian_mixture(d, gen);
  auto mean_sq = [](const Tensor& a, const Tensor& b) {
    const Vec va = a.to_vector<double>(), vb = b.to_vector<double>();
    double s = 0;
    for (size_t i = 0; i < va.size(); ++i) s += (va[i] - vb[i]) * (va[i] - vb[i]);
    return s / static_cast<double>(va.size() / 2);
  };
  {  // Overlapping components: no worse than any single component's map (or the identity) applied to all points.
    const ComponentwiseBuresMap map(source, target);
    const GaussianMixture::Sample s = source.sample(n, gen, 64, DType::F64);
    const Tensor truth = map.apply(s.points, s.components);
    const double best = mean_sq(map.conditional_mean(source, s.points), truth);
    CHECK(best < mean_sq(s.points, truth));
    for (int64_t k = 0; k < 3; ++k) CHECK(best < mean_sq(map.maps()[k].apply(s.points), truth));
    CHECK(best > 0.01 * mean_sq(s.points, truth));  // these components do overlap
  }
  {  // Means 1000 apart: the posterior is one-hot, the conditional mean is T* itself.
    std::vector<Gaussian> far;
    for (int64_t k = 0; k < 3; ++k) {
      Vec m = source.component(k).mean().to_vector<double>();
      m[0] += 1000.0 * static_cast<double>(k);
      far.emplace_back(Tensor::from_vector(m, {d}), source.component(k).cov());
    }
    const GaussianMixture separated(far, source.weights());
    const ComponentwiseBuresMap map(separated, target);
    const GaussianMixture::Sample s = separated.sample(2000, gen, 64, DType::F64);
    CHECK(mean_sq(map.conditional_mean(separated, s.points), map.apply(s.points, s.components)) < 1e-12);
  }
}
