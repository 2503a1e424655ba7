// PacGAN's mode-collapse metrics (tools/common/pacgan_metrics.h) against hand-computed cases: the 3σ
// test on the boundary, captured modes with a threshold, reverse KL of a known histogram, bad input.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "tests/support/errors.h"
#include "tools/common/pacgan_metrics.h"

using brenier::tools::mode_metrics;

TEST_CASE("pacgan metrics: high quality within 3 sigma of the nearest mode, captured modes, reverse KL") {
  // Two modes at (0, 0) and (10, 0), σ = 1 (3σ = 3).
  const std::vector<double> modes = {0, 0, 10, 0};
  // Mode 0: (0, 0), (3, 0) (on the 3σ circle: counts), (2, 2.3) (distance 3.05: not high quality);
  // mode 1: (10, 1). The point (4.9, 0) is nearest to mode 0 and far from it.
  const std::vector<double> samples = {0, 0, 3, 0, 2, 2.3, 10, 1, 4.9, 0};
  const auto m = mode_metrics(samples, modes, 1.0, 1);
  CHECK(m.samples == 5);
  CHECK(m.nearest_counts == std::vector<int64_t>{4, 1});
  CHECK(m.high_quality_counts == std::vector<int64_t>{2, 1});
  CHECK(m.high_quality_percent == doctest::Approx(60.0));
  CHECK(m.modes_captured == 2);
  // p = (0.8, 0.2), K = 2: 0.8 ln 1.6 + 0.2 ln 0.4.
  CHECK(m.reverse_kl == doctest::Approx(0.8 * std::log(1.6) + 0.2 * std::log(0.4)).epsilon(1e-12));
  // A threshold of 2 high-quality samples drops mode 1.
  CHECK(mode_metrics(samples, modes, 1.0, 2).modes_captured == 1);
}

TEST_CASE("pacgan metrics: a balanced generator has reverse KL 0, a collapsed one log K") {
  const std::vector<double> modes = {0, 0, 1, 0, 0, 1, 1, 1};
  CHECK(mode_metrics({0, 0, 1, 0, 0, 1, 1, 1}, modes, 0.01, 1).reverse_kl == doctest::Approx(0.0));
  const auto collapsed = mode_metrics({1, 1, 1, 1.001, 1.002, 1}, modes, 0.01, 1);
  CHECK(collapsed.reverse_kl == doctest::Approx(std::log(4.0)));
  CHECK(collapsed.modes_captured == 1);
  CHECK(collapsed.high_quality_percent == doctest::Approx(100.0));
}

TEST_CASE("pacgan metrics: bad input names the argument") {
  const std::vector<double> modes = {0, 0};
  CHECK_THROWS_WITH_AS(mode_metrics({}, modes, 1.0, 1), doctest::Contains("'samples'"), brenier::Error);
  CHECK_THROWS_WITH_AS(mode_metrics({1, 2, 3}, modes, 1.0, 1), doctest::Contains("'samples'"), brenier::Error);
  CHECK_THROWS_WITH_AS(mode_metrics({1, 2}, {}, 1.0, 1), doctest::Contains("'modes'"), brenier::Error);
  CHECK_THROWS_WITH_AS(mode_metrics({1, 2}, modes, 0.0, 1), doctest::Contains("'sigma'"), brenier::Error);
  CHECK_THROWS_WITH_AS(mode_metrics({1, 2}, modes, 1.0, 0), doctest::Contains("'min_per_mode'"), brenier::Error);
  CHECK_THROWS_WITH_AS(mode_metrics({NAN, 2}, modes, 1.0, 1), doctest::Contains("NaN"), brenier::Error);
}
