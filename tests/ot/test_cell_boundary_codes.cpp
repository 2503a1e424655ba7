// New codes on non-singular cell boundaries (AE-OT generation, spec §6.2) on a hand-built case: two clusters
// of targets far apart. Their supporting planes meet at a large angle (a singular boundary): every
// cross-cluster pair must be rejected and within-cluster pairs kept, one per winning cell, in the
// reference's (rank, point) order, recomputed here by loops.
#include <doctest/doctest.h>

#include "tests/support/errors.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "engine/random/generator.h"
#include "ot/samplers/source_samplers.h"
#include "ot/solvers/cell_boundary_codes.h"

using namespace brenier;
using namespace brenier::ot;

namespace {

// Top-k target indices per point by loops (f64, lower index first on ties).
std::vector<std::vector<int64_t>> naive_topk(const std::vector<double>& x, const std::vector<double>& y,
                                             const std::vector<double>& h, int64_t d, int64_t k) {
  const int64_t N = static_cast<int64_t>(x.size()) / d, n = static_cast<int64_t>(h.size());
  std::vector<std::vector<int64_t>> out;
  for (int64_t j = 0; j < N; ++j) {
    std::vector<double> s(n);
    for (int64_t i = 0; i < n; ++i) {
      s[i] = h[i];
      for (int64_t c = 0; c < d; ++c) s[i] += x[j * d + c] * y[i * d + c];
    }
    std::vector<int64_t> order(n);
    std::iota(order.begin(), order.end(), int64_t{0});
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return s[a] > s[b]; });
    out.emplace_back(order.begin(), order.begin() + k);
  }
  return out;
}

struct TwoClusters {
  Tensor targets, heights;
  std::vector<int> label;  // 0: cluster around (−3, 0); 1: around (3, 0)
};

// 5 targets per cluster, spread 0.1. Normals of (−3, 0) and (3, 0): cos = (−9 + 1)/10, θ ≈ 2.5 rad; within a
// cluster θ ≲ 0.05 rad. top_k = 7 > 5 makes every point's list reach into the other cluster.
TwoClusters two_clusters(Generator& gen) {
  const int64_t per = 5;
  std::vector<double> y;
  TwoClusters out;
  Tensor noise = gen.normal({2 * per, 2}, 0, 0.1, DType::F64);
  std::vector<double> e = noise.to_vector<double>();
  for (int64_t i = 0; i < 2 * per; ++i) {
    const int cluster = i % 2;  // interleaved, so cluster membership is not an index range
    y.push_back((cluster == 0 ? -3.0 : 3.0) + e[2 * i]);
    y.push_back(e[2 * i + 1]);
    out.label.push_back(cluster);
  }
  out.targets = Tensor::from_vector(y, {2 * per, 2});
  out.heights = gen.normal({2 * per}, 0, 0.1, DType::F64);
  return out;
}

}  // namespace

TEST_CASE("boundary codes: cross-cluster (singular) pairs rejected, within-cluster pairs kept, one per winner") {
  Generator setup(31);
  TwoClusters tc = two_clusters(setup);
  const int64_t samples = 400, k = 7, d = 2;
  BoundaryCodeConfig config;
  config.samples = samples;
  config.top_k = k;
  config.angle_threshold = 0.5;
  config.cells.source_chunk = 64;  // several blocks
  SourceSampler source = uniform_cube_sampler(2, -0.5, 0.5, DType::F64);

  Generator gen(32);
  BoundaryCodes codes = generate_boundary_codes(source, gen, tc.targets, tc.heights, config);

  // The same points again (the sampler is the generator's first draw), and the expected pairs by loops.
  Generator replay(32);
  const std::vector<double> x = source(replay, samples).to_vector<double>();
  const std::vector<double> y = tc.targets.to_vector<double>(), h = tc.heights.to_vector<double>();
  const auto top = naive_topk(x, y, h, d, k);
  int64_t within = 0, across = 0;
  std::vector<int64_t> expected_second(y.size() / d, -1);  // first accepted pair per winner, (rank, point) order
  for (int64_t r = 1; r < k; ++r)
    for (int64_t j = 0; j < samples; ++j) {
      const int64_t a = top[j][0], b = top[j][r];
      if (tc.label[a] != tc.label[b]) {
        ++across;
        continue;
      }
      ++within;
      if (expected_second[a] < 0) expected_second[a] = b;
    }
  REQUIRE(across > samples);  // the case does exercise the rejection
  CHECK(codes.candidate_pairs == samples * (k - 1));
  CHECK(codes.accepted_pairs == within);

  const std::vector<int64_t> first = codes.first.to_vector<int64_t>(), second = codes.second.to_vector<int64_t>();
  const std::vector<double> angle = codes.angle.to_vector<double>(), t = codes.t.to_vector<double>();
  const std::vector<double> made = codes.codes.to_vector<double>();
  std::set<int64_t> winners(first.begin(), first.end());
  CHECK(winners.size() == first.size());  // one pair per winning cell
  std::set<int64_t> expected_winners;
  for (size_t i = 0; i < expected_second.size(); ++i)
    if (expected_second[i] >= 0) expected_winners.insert(static_cast<int64_t>(i));
  CHECK(winners == expected_winners);
  REQUIRE(!first.empty());
  for (size_t m = 0; m < first.size(); ++m) {
    CAPTURE(m);
    CHECK(tc.label[first[m]] == tc.label[second[m]]);
    CHECK(second[m] == expected_second[first[m]]);
    CHECK(angle[m] <= config.angle_threshold);
    CHECK(t[m] == 0.75);
    for (int64_t c = 0; c < d; ++c)
      CHECK(made[m * d + c] == doctest::Approx(0.25 * y[first[m] * d + c] + 0.75 * y[second[m] * d + c]).epsilon(1e-14));
  }

  // Uniform weights, and the cap.
  config.interpolation = CodeInterpolation::Uniform;
  config.max_codes = 3;
  Generator gen2(32);
  BoundaryCodes capped = generate_boundary_codes(source, gen2, tc.targets, tc.heights, config);
  CHECK(capped.first.size(0) == std::min<int64_t>(3, static_cast<int64_t>(first.size())));
  const std::vector<double> tu = capped.t.to_vector<double>(), cu = capped.codes.to_vector<double>();
  const std::vector<int64_t> f2 = capped.first.to_vector<int64_t>(), s2 = capped.second.to_vector<int64_t>();
  for (size_t m = 0; m < tu.size(); ++m) {
    CHECK(tu[m] >= 0);
    CHECK(tu[m] < 1);
    CHECK(winners.count(f2[m]) == 1);
    for (int64_t c = 0; c < d; ++c)
      CHECK(cu[m * d + c] == doctest::Approx((1 - tu[m]) * y[f2[m] * d + c] + tu[m] * y[s2[m] * d + c]).epsilon(1e-14));
  }
}

TEST_CASE("boundary codes: supporting-plane normals and bad input") {
  Tensor y = Tensor::from_vector(std::vector<double>{3, 4, 0, 0}, {2, 2});
  std::vector<double> nm = supporting_plane_normals(y).to_vector<double>();
  const double r = std::sqrt(26.0);
  CHECK(nm[0] == doctest::Approx(3 / r));
  CHECK(nm[1] == doctest::Approx(4 / r));
  CHECK(nm[2] == doctest::Approx(-1 / r));
  CHECK(nm[3] == 0);
  CHECK(nm[5] == -1);

  Generator gen(33);
  SourceSampler source = uniform_cube_sampler(2, -0.5, 0.5, DType::F64);
  Tensor h = Tensor::zeros({2}, DType::F64);
  BoundaryCodeConfig c;
  c.top_k = 1;
  CHECK(error_of([&] { generate_boundary_codes(source, gen, y, h, c); }).find("'top_k' must be in [2, 2]") !=
        std::string::npos);
  c.top_k = 2;
  c.angle_threshold = -1;
  CHECK(error_of([&] { generate_boundary_codes(source, gen, y, h, c); }).find("'angle_threshold'") != std::string::npos);
  c.angle_threshold = 0.5;
  CHECK(error_of([&] { generate_boundary_codes(uniform_cube_sampler(3), gen, y, h, c); }).find("must return floating") !=
        std::string::npos);
  CHECK(error_of([&] { generate_boundary_codes(source, gen, y.reshape({1, 4}), Tensor::zeros({1}, DType::F64), c); })
            .find("n >= 2") != std::string::npos);
}
