// FreeHeightSolver (AE-OT, spec §6.1): the update rule against a hand computation, the adaptive Monte Carlo,
// convergence on a 2-D problem checked with fresh samples (every cell's mass within a binomial bound of
// ν_i), the source samplers, and bad input.
#include <doctest/doctest.h>

#include "tests/support/errors.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include <unistd.h>

#include "engine/backend/device_memory.h"
#include "engine/random/generator.h"
#include "ot/samplers/source_samplers.h"
#include "ot/solvers/semi_discrete_solver.h"

using namespace brenier;
using namespace brenier::ot;

namespace {

// Cell counts of fixed points by loops (f64, first index on ties); `mean_max` gets mean_j u_h(x_j).
std::vector<int64_t> naive_counts(const std::vector<double>& x, const std::vector<double>& y, const std::vector<double>& h,
                                  int64_t d, double* mean_max = nullptr) {
  const int64_t N = static_cast<int64_t>(x.size()) / d, n = static_cast<int64_t>(h.size());
  std::vector<int64_t> counts(n, 0);
  double total = 0;
  for (int64_t j = 0; j < N; ++j) {
    int64_t best = 0;
    double best_s = -INFINITY;
    for (int64_t i = 0; i < n; ++i) {
      double s = h[i];
      for (int64_t c = 0; c < d; ++c) s += x[j * d + c] * y[i * d + c];
      if (s > best_s) best_s = s, best = i;
    }
    ++counts[best];
    total += best_s;
  }
  if (mean_max) *mean_max = total / static_cast<double>(N);
  return counts;
}

// 16 targets clustered off-centre in the source square [−0.5, 0.5]²: with h = 0 (Voronoi cells) the outer
// targets take far more than 1/16 of the mass, so the solved masses are a real test.
Tensor clustered_targets(Generator& gen, int64_t n) {
  Tensor y = gen.normal({n, 2}, 0, 0.2, DType::F64);
  std::vector<double> v = y.to_vector<double>();
  for (size_t i = 0; i < v.size(); ++i) v[i] += (i % 2 == 0) ? 0.15 : -0.1;
  return Tensor::from_vector(v, {n, 2});
}

struct MassCheck {
  double worst_excess = -INFINITY;  // max_i |ŵ_i − ν_i| − bound_i (≤ 0 passes)
  double l2 = 0;            // ‖ŵ − ν‖₂
};

// Fresh-sample cell masses against ν: per cell |ŵ'_i − ν_i| ≤ δ + 5σ_solve,i + 5σ_eval,i, where δ bounds
// |ŵ_i − ν_i| at the solver's last (fresh-sample) estimate, σ_solve,i = √(ν_i(1−ν_i)/N_solve) bounds that
// estimate's own error against the true mass w_i, and σ_eval,i the evaluation's (binomial standard
// deviations; 5σ: ~6e-7 per cell and side).
MassCheck check_masses(const Tensor& targets, const Tensor& heights, const std::vector<double>& nu, double delta,
                       int64_t solve_samples, int64_t eval_samples, uint64_t seed) {
  Generator gen(seed);
  Tensor x = gen.uniform({eval_samples, 2}, -0.5, 0.5, targets.dtype());
  std::vector<int64_t> counts = assign_cells(x, targets, heights).counts.to_vector<int64_t>();
  MassCheck out;
  double sq = 0;
  for (size_t i = 0; i < nu.size(); ++i) {
    const double w = static_cast<double>(counts[i]) / static_cast<double>(eval_samples);
    const double var = nu[i] * (1 - nu[i]);
    const double bound = delta + 5 * std::sqrt(var / solve_samples) + 5 * std::sqrt(var / eval_samples);
    out.worst_excess = std::max(out.worst_excess, std::abs(w - nu[i]) - bound);
    sq += (w - nu[i]) * (w - nu[i]);
  }
  out.l2 = std::sqrt(sq);
  return out;
}

// The first k rows of y [n, d] (f64).
Tensor select_first_rows(const Tensor& y, int64_t k) {
  std::vector<double> v = y.to_vector<double>();
  v.resize(static_cast<size_t>(k * y.size(1)));
  return Tensor::from_vector(v, {k, y.size(1)});
}

}  // namespace

TEST_CASE("free-height solver: one and two steps equal pyOMT's Adam without bias correction, then h -= mean(h)") {
  Generator gen(21);
  const int64_t M = 257, n = 6, d = 2;
  Tensor fixed = gen.uniform({M, d}, -0.5, 0.5, DType::F64);
  Tensor y = gen.normal({n, d}, 0, 0.3, DType::F64);
  // The same points every step, so the gradient is deterministic and can be recomputed by loops.
  SourceSampler same_points = [&](Generator&, int64_t count) {
    REQUIRE(count == M);
    return fixed;
  };
  FreeHeightSolverConfig config;
  config.lr = 0.01;
  config.tolerance = 1e-9;
  config.monte_carlo = {.batch_size = M, .initial_batches = 1};
  config.dtype = DType::F64;
  FreeHeightSolver solver(y, {}, config);

  const std::vector<double> xv = fixed.to_vector<double>(), yv = y.to_vector<double>();
  std::vector<double> h(n, 0.0), m(n, 0.0), v(n, 0.0);
  for (int step = 0; step < 3; ++step) {
    double mean_max = 0;
    std::vector<int64_t> c = naive_counts(xv, yv, h, d, &mean_max);
    double energy = mean_max;  // E(h) = mean_j u_h(x_j) − Σ_i ν_i h_i
    for (int64_t i = 0; i < n; ++i) energy -= h[i] / n;
    double norm = 0;
    std::vector<double> g(n);
    for (int64_t i = 0; i < n; ++i) g[i] = static_cast<double>(c[i]) / M - 1.0 / n, norm += g[i] * g[i];
    for (int64_t i = 0; i < n; ++i) {
      m[i] = 0.9 * m[i] + 0.1 * g[i];
      v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
      h[i] -= config.lr * m[i] / (std::sqrt(v[i]) + 1e-8);
    }
    const double mean = std::accumulate(h.begin(), h.end(), 0.0) / n;
    for (double& hi : h) hi -= mean;

    SemiDiscreteStepStats stats = solver.step(same_points);
    CHECK(stats.step == step + 1);
    CHECK(stats.mc_samples == M);
    CHECK(stats.grad_norm == doctest::Approx(std::sqrt(norm)).epsilon(1e-12));
    CHECK(stats.energy == doctest::Approx(energy).epsilon(1e-12));
    std::vector<double> got = solver.heights().to_vector<double>();
    for (int64_t i = 0; i < n; ++i) CHECK(got[i] == doctest::Approx(h[i]).epsilon(1e-10));
    CHECK(std::abs(std::accumulate(got.begin(), got.end(), 0.0)) < 1e-14);
  }
}

TEST_CASE("free-height solver: adaptive Monte Carlo doubles after `patience` steps without a new best") {
  AdaptiveBatches a({.batch_size = 10, .initial_batches = 3, .patience = 4, .max_batches = 12});
  CHECK(a.batches() == 3);
  CHECK_FALSE(a.observe(1.0));  // best
  CHECK_FALSE(a.observe(0.9));  // new best
  CHECK_FALSE(a.observe(0.95));
  CHECK_FALSE(a.observe(0.9));  // equal to the best counts as no worse (pyOMT: g <= best)
  CHECK_FALSE(a.observe(1.2));
  CHECK_FALSE(a.observe(1.3));
  CHECK_FALSE(a.observe(1.1));
  CHECK(a.observe(1.0));  // 4th bad step in a row
  CHECK(a.batches() == 6);
  CHECK_FALSE(a.observe(5.0));  // the best was forgotten: a fresh start
  for (int i = 0; i < 3; ++i) CHECK_FALSE(a.observe(6.0));
  CHECK(a.observe(6.0));
  CHECK(a.batches() == 12);
  for (int i = 0; i < 20; ++i) CHECK_FALSE(a.observe(100.0 + i));  // capped at max_batches
  CHECK(a.batches() == 12);
}

TEST_CASE("adaptive Monte Carlo: state() and set_state() carry the stall count and the best over a resume") {
  const MonteCarloConfig config{.batch_size = 10, .initial_batches = 2, .patience = 3, .max_batches = 16};
  AdaptiveBatches a(config);
  for (double g : {1.0, 0.8, 0.9, 0.95}) a.observe(g);  // best 0.8, two bad steps
  AdaptiveBatches b(config);
  b.set_state(a.state());
  CHECK(a.observe(0.85) == b.observe(0.85));  // both double on the third bad step
  CHECK(b.batches() == 4);
  CHECK(b.state().bad_steps == 0);
  // set_batches (the older resume) forgets the stall count: it would not double here.
  AdaptiveBatches c(config);
  for (double g : {1.0, 0.8, 0.9, 0.95}) c.observe(g);
  c.set_batches(c.batches());
  CHECK_FALSE(c.observe(0.85));
  CHECK(error_of([&] { b.set_state({.batches = 32}); }).find("must be in [1, 16]") != std::string::npos);
  CHECK(error_of([&] { b.set_state({.batches = 2, .bad_steps = -1}); }).find("bad_steps >= 0") != std::string::npos);
}

TEST_CASE("free-height solver: a checkpoint mid-solve resumes bit for bit (same heights, doublings and steps)") {
  Generator gen(47);
  const Tensor y = clustered_targets(gen, 10);
  FreeHeightSolverConfig config;
  config.lr = 1e-2;
  config.lr_final = 1e-3;        // the decay follows the step count across the resume
  config.tolerance = 1e-9;       // never reached: max_iter steps
  config.max_iter = 40;
  config.monte_carlo = {.batch_size = 200, .initial_batches = 1, .patience = 3, .max_batches = 64};
  config.dtype = DType::F64;
  const SourceSampler source = uniform_cube_sampler(2, -0.5, 0.5, DType::F64);
  FreeHeightSolver straight(y, {}, config);
  const SemiDiscreteSolveResult full = straight.solve(source);
  CHECK(full.iterations == 40);

  const std::string path = (std::filesystem::temp_directory_path() /
                            ("brenier-free-heights-" + std::to_string(::getpid()) + ".safetensors"))
                               .string();
  FreeHeightSolver first(y, {}, config);
  for (int i = 0; i < 17; ++i) first.step(source);
  const int64_t batches_at_save = first.mc_batches();
  first.save(path, {{"seconds", "1.25"}});
  FreeHeightSolverConfig other = config;
  other.seed = 5;  // another generator: its position must come from the file
  FreeHeightSolver resumed(y, {}, other);
  const std::map<std::string, std::string> metadata = resumed.load(path);
  CHECK(metadata.at("seconds") == "1.25");
  CHECK(metadata.at("kind") == "FreeHeightSolver");
  CHECK(resumed.steps_done() == 17);
  const SemiDiscreteSolveResult rest = resumed.solve(source);
  CHECK(rest.iterations == 23);  // only the steps left of max_iter
  CHECK(resumed.steps_done() == 40);
  CHECK(straight.mc_batches() > batches_at_save);  // the stall count crossed the save: the state mattered
  CHECK(resumed.mc_batches() == straight.mc_batches());
  CHECK(resumed.heights().to_vector<double>() == straight.heights().to_vector<double>());
  // A solve already at max_iter takes no step.
  CHECK(resumed.solve(source).iterations == 0);

  // Refusals name the file's contents and leave the solver as it was.
  const std::vector<double> before = resumed.heights().to_vector<double>();
  FreeHeightSolver fewer(select_first_rows(y, 8), {}, config);
  CHECK(error_of([&] { fewer.load(path); }).find("holds a solve of 10 targets in dimension 2") != std::string::npos);
  CHECK(error_of([&] { resumed.save(path, {{"kind", "mine"}}); }).find("solver's own key 'kind'") !=
        std::string::npos);
  std::remove(path.c_str());
  CHECK(error_of([&] { resumed.load(path); }) != "");
  CHECK(resumed.heights().to_vector<double>() == before);
  CHECK(resumed.steps_done() == 40);
}

TEST_CASE("free-height solver: 2-D uniform source, every cell's fresh-sample mass within the binomial bound of ν") {
  Generator target_gen(22);
  const int64_t n = 16;
  Tensor y = clustered_targets(target_gen, n);
  // Uniform ν and a non-uniform ν (weights ∝ 1, 2, 3, 1, 2, 3, ...).
  std::vector<double> skewed(n);
  for (int64_t i = 0; i < n; ++i) skewed[i] = 1.0 + static_cast<double>(i % 3);
  const double total = std::accumulate(skewed.begin(), skewed.end(), 0.0);
  for (double& w : skewed) w /= total;

  for (bool uniform : {true, false}) {
    CAPTURE(uniform);
    const std::vector<double> nu = uniform ? std::vector<double>(n, 1.0 / n) : skewed;
    FreeHeightSolverConfig config;
    config.lr = 2e-3;
    config.tolerance = 5e-3;
    config.max_iter = 3000;
    config.monte_carlo = {.batch_size = 10000, .initial_batches = 2, .patience = 30, .max_batches = 64};
    config.dtype = DType::F64;
    config.seed = 5;
    FreeHeightSolver solver(y, uniform ? Tensor() : Tensor::from_vector(nu), config);

    // With h = 0 the masses are far from ν: the solve has something to do.
    const MassCheck before = check_masses(solver.targets(), solver.heights(), nu, config.tolerance, 20000, 400000, 7);
    CHECK(before.worst_excess > 0.02);

    int64_t callbacks = 0;
    SemiDiscreteSolveResult result = solver.solve(uniform_cube_sampler(2, -0.5, 0.5, DType::F64),
                                                  [&](const SemiDiscreteStepStats&) { ++callbacks; });
    MESSAGE("free heights: converged=", result.converged, " iterations=", result.iterations, " |g|=",
            result.grad_norm, " samples/step=", result.mc_samples, " seconds=", result.seconds);
    REQUIRE(result.converged);
    CHECK(result.grad_norm < config.tolerance);
    CHECK(callbacks == result.iterations);
    const MassCheck after =
        check_masses(solver.targets(), solver.heights(), nu, config.tolerance, result.mc_samples, 400000, 8);
    MESSAGE("fresh-sample masses: ||w - nu||_2 = ", after.l2, ", worst (|w_i - nu_i| - bound_i) = ", after.worst_excess);
    CHECK(after.worst_excess <= 0);
    // transport() sends a point to the target of its cell.
    Tensor x = Tensor::from_vector(std::vector<double>{0.1, -0.2, 0.4, 0.4}, {2, 2});
    Tensor mapped = solver.transport(x);
    std::vector<int64_t> cell = solver.assign(x, {}).argmax.to_vector<int64_t>();
    std::vector<double> yv = y.to_vector<double>(), mv = mapped.to_vector<double>();
    for (int j = 0; j < 2; ++j)
      for (int c = 0; c < 2; ++c) CHECK(mv[j * 2 + c] == yv[cell[j] * 2 + c]);
  }
}

TEST_CASE("free-height solver: samplers draw from their measures, reproducibly") {
  Generator a(3), b(3);
  Tensor u = uniform_cube_sampler(3)(a, 2000);
  CHECK(u.shape() == Shape{2000, 3});
  std::vector<float> uv = u.to_vector<float>();
  CHECK(*std::min_element(uv.begin(), uv.end()) >= -0.5f);
  CHECK(*std::max_element(uv.begin(), uv.end()) < 0.5f);
  CHECK(uniform_cube_sampler(3)(b, 2000).to_vector<float>() == uv);  // same seed, same points
  Tensor g = normal_sampler(2, 1.0, 2.0, DType::F64)(a, 20000);
  std::vector<double> gv = g.to_vector<double>();
  double mean = 0, sq = 0;
  for (double v : gv) mean += v, sq += v * v;
  mean /= gv.size();
  const double var = sq / gv.size() - mean * mean;
  CHECK(std::abs(mean - 1.0) < 5 * 2.0 / std::sqrt(gv.size()));
  CHECK(std::abs(var - 4.0) < 5 * 4.0 * std::sqrt(2.0 / gv.size()));
  Tensor pts = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {3, 2});
  std::vector<double> e = empirical_sampler(pts)(a, 50).to_vector<double>();
  for (size_t i = 0; i < e.size(); i += 2) CHECK(e[i + 1] == e[i] + 1);  // whole rows of `pts`
  CHECK(error_of([] { uniform_cube_sampler(0); }).find("'dim' must be >= 1") != std::string::npos);
  CHECK(error_of([] { normal_sampler(2, 0, -1); }).find("std > 0") != std::string::npos);
  // Drawing on a device this build or machine lacks is a clear error at the draw, naming the argument.
  if (!backend::cuda_available()) {
    Generator c(1);
    const std::string err = error_of([&] { normal_sampler(2, 0, 1, DType::F32, Device::cuda(0))(c, 4); });
    CHECK(err.find("device") != std::string::npos);
  }
}

TEST_CASE("free-height solver: bad input gives clear errors") {
  Generator gen(23);
  Tensor y = gen.normal({5, 2});
  CHECK(error_of([&] { FreeHeightSolver(Tensor::zeros({0, 2})); }).find("non-empty target set") != std::string::npos);
  Tensor nan_targets = y.clone();
  nan_targets.data<float>()[1] = NAN;
  CHECK(error_of([&] { FreeHeightSolver s(nan_targets); }).find("'targets'") != std::string::npos);
  CHECK(error_of([&] { FreeHeightSolver s(y, Tensor::full({5}, 0.3, DType::F64)); }).find("must sum to 1") !=
        std::string::npos);
  CHECK(error_of([&] { FreeHeightSolver s(y, Tensor::from_vector(std::vector<double>{0.5, 0.5, 0, 0, 0})); })
            .find("must be > 0") != std::string::npos);
  CHECK(error_of([&] { FreeHeightSolver s(y, Tensor::full({4}, 0.25, DType::F64)); }).find("one weight per target") !=
        std::string::npos);
  FreeHeightSolverConfig bad_lr;
  bad_lr.lr = 0;
  CHECK(error_of([&] { FreeHeightSolver s(y, {}, bad_lr); }).find("'lr' must be finite and > 0") != std::string::npos);
  FreeHeightSolver solver(y);
  // A sampler of the wrong dimension, or one that returns NaN.
  CHECK(error_of([&] { solver.step(uniform_cube_sampler(3)); }).find("must return floating [1000, 2]") !=
        std::string::npos);
  SourceSampler nan_sampler = [](Generator& g, int64_t count) {
    Tensor x = g.normal({count, 2});
    x.data<float>()[7] = NAN;
    return x;
  };
  CHECK(error_of([&] { solver.step(nan_sampler); }).find("sampler's batch") != std::string::npos);
  CHECK(error_of([&] { solver.transport(gen.normal({4, 3})); }).find("must be a floating [m, 2]") != std::string::npos);
  CHECK(error_of([&] { solver.set_heights(Tensor::zeros({4})); }).find("[5]") != std::string::npos);
}
