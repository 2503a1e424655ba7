// OT-Net's warm start (issue 6, color transfer): HeightNetworkSolver::fit_heights solves for H_Φ's output
// layer in closed form, so H_Φ reproduces given heights (up to a constant) when the last hidden width is
// ≥ n − 1; a warm start from a converged free-height solve meets δ at OT-Net's first checks and gives the
// heights of a cold OT-Net solve; the solvers' geometric lr decay (lr_final); steps after the fit on the output
// layer only (HeightNetworkUpdate::output_layer) keep or improve the balance, where Adam on all of H_Φ loses it.
#include <doctest/doctest.h>

#include "tests/support/errors.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "engine/random/generator.h"
#include "ot/samplers/source_samplers.h"
#include "ot/solvers/height_network_solver.h"
#include "ot/solvers/semi_discrete_solver.h"

using namespace brenier;
using namespace brenier::ot;

namespace {

// max_i |(a_i − mean a) − (b_i − mean b)| / (max b − min b): heights compared up to a constant.
double centred_max_error(const std::vector<double>& a, const std::vector<double>& b) {
  const double ma = std::accumulate(a.begin(), a.end(), 0.0) / static_cast<double>(a.size());
  const double mb = std::accumulate(b.begin(), b.end(), 0.0) / static_cast<double>(b.size());
  double worst = 0, lo = b[0], hi = b[0];
  for (size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::abs((a[i] - ma) - (b[i] - mb)));
    lo = std::min(lo, b[i]), hi = std::max(hi, b[i]);
  }
  return worst / (hi - lo);
}

}  // namespace

TEST_CASE("height-network warm start: fit_heights reproduces any heights when the last hidden width >= n - 1") {
  Generator gen(61);
  const int64_t n = 24;
  const Tensor y = gen.uniform({n, 3}, 0, 1);
  const Tensor h = gen.normal({n}, 0, 0.3, DType::F64);
  for (DType dtype : {DType::F32, DType::F64}) {
    CAPTURE(dtype_name(dtype));
    HeightNetworkSolverConfig config;
    config.hidden = {32, 32};
    config.fourier_features = 0;
    config.dtype = dtype;
    HeightNetworkSolver solver(y, {}, config);
    const double rms = solver.fit_heights(h);
    CHECK_FALSE(solver.frozen());
    solver.freeze_statistics();
    const std::vector<double> got = solver.predict_heights(y).to_vector<double>();
    const double tol = dtype == DType::F32 ? 1e-4 : 1e-8;
    CHECK(centred_max_error(got, h.to_vector<double>()) < tol);
    CHECK(rms < tol);
  }
  // Fewer features than targets: the least-squares fit, not an interpolation, and the error says so.
  HeightNetworkSolverConfig narrow;
  narrow.hidden = {4};
  narrow.fourier_features = 0;
  HeightNetworkSolver solver(y, {}, narrow);
  CHECK(solver.fit_heights(h) > 1e-3);
  // Identical targets: every feature is constant, only the bias fits (the mean), no NaN.
  HeightNetworkSolver flat(Tensor::full({5, 3}, 0.5), {}, narrow);
  flat.fit_heights(Tensor::from_vector(std::vector<double>{0, 1, 2, 3, 4}));
  flat.freeze_statistics();
  for (double v : flat.predict_heights(Tensor::full({2, 3}, 0.5)).to_vector<double>()) CHECK(v == doctest::Approx(2.0));
  CHECK(error_of([&] { solver.fit_heights(Tensor::zeros({n + 1})); }).find("'heights' must be a floating [24]") !=
        std::string::npos);
}

TEST_CASE("height-network warm start: from a free-height solve, OT-Net meets delta at once and matches a cold "
          "solve's heights") {
  Generator gen(41);
  const int64_t n = 16;
  const Tensor y = gen.uniform({n, 2}, -0.4, 0.4);
  const MonteCarloConfig mc = {.batch_size = 10000, .initial_batches = 2, .patience = 30, .max_batches = 16};
  const double delta = 5e-3;

  FreeHeightSolverConfig free_config;
  free_config.lr = 1e-3;
  free_config.lr_final = 1e-5;
  free_config.tolerance = delta / 2;
  free_config.max_iter = 3000;
  free_config.monte_carlo = mc;
  free_config.seed = 5;
  FreeHeightSolver free_solver(y, {}, free_config);
  REQUIRE(free_solver.solve(uniform_cube_sampler(2)).converged);

  HeightNetworkSolverConfig config;
  config.hidden = {64, 64};
  config.lr = 2e-3;
  config.tolerance = delta;
  config.max_iter = 2000;
  config.monte_carlo = mc;
  config.seed = 3;
  // The warm solver's checks use the free solve's final sample size: a noise floor √((1 − 1/n)/N) ≈ 0.0024
  // under δ (at the cold start's 20,000 it is 0.0068, above δ, so a check could not pass on the first try).
  HeightNetworkSolverConfig warm_config = config;
  warm_config.monte_carlo.initial_batches = free_solver.mc_batches();
  HeightNetworkSolver warm(y, {}, warm_config);
  CHECK(warm.fit_heights(free_solver.heights()) < 1e-4);
  const HeightNetworkSolveResult warm_result = warm.solve(uniform_cube_sampler(2));
  CHECK(warm_result.converged);
  CHECK(warm_result.iterations <= 3);  // the free solve met δ/2; sampling noise may cost a step or two

  HeightNetworkSolver cold(y, {}, config);
  const HeightNetworkSolveResult cold_result = cold.solve(uniform_cube_sampler(2));
  REQUIRE(cold_result.converged);
  MESSAGE("warm start: ", warm_result.iterations, " OT-Net steps against ", cold_result.iterations, " cold");
  CHECK(warm_result.iterations < cold_result.iterations);
  // One optimum (up to a constant): both solves' heights agree within what δ allows (a few % of their range).
  const double error =
      centred_max_error(warm.predict_heights(y).to_vector<double>(), cold.predict_heights(y).to_vector<double>());
  MESSAGE("warm vs cold heights: max error / range = ", error);
  CHECK(error < 0.05);
}

TEST_CASE("semi-discrete solvers: lr_final decays lr geometrically over max_iter steps") {
  CHECK(decayed_lr(1e-3, 1e-5, 1, 201) == doctest::Approx(1e-3));
  CHECK(decayed_lr(1e-3, 1e-5, 101, 201) == doctest::Approx(1e-4));
  CHECK(decayed_lr(1e-3, 1e-5, 201, 201) == doctest::Approx(1e-5));
  CHECK(decayed_lr(1e-3, 1e-5, 500, 201) == doctest::Approx(1e-5));
  CHECK(decayed_lr(1e-3, 1e-5, 1, 1) == doctest::Approx(1e-5));
  FreeHeightSolverConfig bad;
  bad.lr_final = -1;
  CHECK(error_of([&] { FreeHeightSolver(Tensor::zeros({3, 2}), {}, bad); }).find("'lr_final' must be finite and >= 0") !=
        std::string::npos);
  HeightNetworkSolverConfig bad_network;
  bad_network.lr_final = NAN;
  CHECK(error_of([&] { HeightNetworkSolver(Tensor::zeros({3, 2}), {}, bad_network); })
            .find("'lr_final' must be finite and >= 0") != std::string::npos);
}

namespace {

// ‖ŵ − ν‖₂ of H_Φ's current heights for the uniform source on [−0.5, 0.5]² and uniform ν, by quadrature: the
// cells of a 400 × 400 grid of pixel centres (a reference independent of the solver's Monte Carlo; a cell's
// mass is off by at most its boundary's pixels, ≈ 1e-3 for 16 cells, and the error is deterministic).
double grid_mass_error(HeightNetworkSolver& solver, const Tensor& y) {
  const int64_t side = 400, n = y.size(0);
  std::vector<float> x;
  x.reserve(static_cast<size_t>(2 * side * side));
  for (int64_t i = 0; i < side; ++i)
    for (int64_t j = 0; j < side; ++j) {
      x.push_back(static_cast<float>((static_cast<double>(i) + 0.5) / side - 0.5));
      x.push_back(static_cast<float>((static_cast<double>(j) + 0.5) / side - 0.5));
    }
  if (!solver.frozen()) solver.freeze_statistics();
  const std::vector<int64_t> counts =
      solver.assign(Tensor::from_vector(x, {side * side, 2}), y, {}).counts.to_vector<int64_t>();
  double sq = 0;
  for (int64_t c : counts) {
    const double d = static_cast<double>(c) / static_cast<double>(side * side) - 1.0 / static_cast<double>(n);
    sq += d * d;
  }
  return std::sqrt(sq);
}

}  // namespace

TEST_CASE("height-network warm start: output-layer steps after fit_heights do not unbalance the map and balance "
          "an unbalanced start, where Adam on all of H_Phi unbalances it") {
  Generator gen(43);
  const int64_t n = 16;
  const Tensor y = gen.uniform({n, 2}, -0.4, 0.4);
  const MonteCarloConfig mc = {.batch_size = 10000, .initial_batches = 4, .patience = 30, .max_batches = 4};
  // A balanced start: free heights solved to ‖ĝ‖ < 2.5e-3 (the Monte Carlo doubles up to 160,000 sources).
  FreeHeightSolverConfig free_config;
  free_config.lr = 1e-3;
  free_config.lr_final = 1e-5;
  free_config.tolerance = 2.5e-3;
  free_config.max_iter = 3000;
  free_config.monte_carlo = {.batch_size = 10000, .initial_batches = 2, .patience = 30, .max_batches = 16};
  free_config.seed = 5;
  FreeHeightSolver free_solver(y, {}, free_config);
  REQUIRE(free_solver.solve(uniform_cube_sampler(2)).converged);
  // An unbalanced start: the Voronoi heights −|y|²/2 (cells of the nearest target).
  std::vector<double> voronoi(n);
  const std::vector<double> yv = y.to_vector<double>();
  for (int64_t i = 0; i < n; ++i) voronoi[i] = -0.5 * (yv[2 * i] * yv[2 * i] + yv[2 * i + 1] * yv[2 * i + 1]);

  HeightNetworkSolverConfig config;
  config.hidden = {32, 32};  // ≥ n − 1: fit_heights interpolates
  config.fourier_features = 0;
  config.tolerance = 1e-6;   // never met: every call takes its step
  config.monte_carlo = mc;   // 40,000 sources a step
  config.seed = 3;
  // `steps` steps from `start`: the grid's ‖ŵ − ν‖ before them and after every 5.
  const int64_t steps = 60;
  auto run = [&](HeightNetworkUpdate update, double lr, const Tensor& start) {
    HeightNetworkSolverConfig c = config;
    c.update = update;
    c.lr = lr;
    HeightNetworkSolver solver(y, {}, c);
    REQUIRE(solver.fit_heights(start) < 1e-4);
    std::vector<double> errors = {grid_mass_error(solver, y)};
    for (int64_t k = 1; k <= steps; ++k) {
      solver.step(uniform_cube_sampler(2));
      if (k % 5 == 0) errors.push_back(grid_mass_error(solver, y));
    }
    return errors;
  };
  // lr 0.05 on the heights: E's Hessian here (16 cells ≈ 0.25 wide, targets ≈ 0.2 apart) has eigenvalues ≲ 10,
  // so a gradient step of 0.05 contracts every mode (ηλ ≲ 0.5).
  const double lr = 0.05;
  const std::vector<double> balanced = run(HeightNetworkUpdate::output_layer, lr, free_solver.heights());
  const std::vector<double> from_voronoi =
      run(HeightNetworkUpdate::output_layer, lr, Tensor::from_vector(voronoi));
  const std::vector<double> adam = run(HeightNetworkUpdate::all_parameters, 1e-3, free_solver.heights());
  MESSAGE("grid ||w - nu||, every 5 steps: balanced start ", fmt::format("{:.4f}", fmt::join(balanced, " ")));
  MESSAGE("Voronoi start ", fmt::format("{:.4f}", fmt::join(from_voronoi, " ")));
  MESSAGE("Adam on all of H_Phi (lr 1e-3) from the balanced start ", fmt::format("{:.4f}", fmt::join(adam, " ")));
  // Balanced start: no checkpoint above the start by more than the steps' own noise. ĝ over 40,000 sources
  // carries noise of norm √((1 − 1/n)/N) ≈ 0.0048; a step passes it on to ŵ as ≲ ηλ ≈ 0.5 of it, so the
  // stationary ‖ŵ − ν‖ of the steps is ≈ 0.0025 around the optimum: margin 0.005, twice that.
  const double margin = 0.005;
  for (double e : balanced) CHECK(e <= balanced.front() + margin);
  // Unbalanced start: never above it, and at the end a tenth of it.
  for (double e : from_voronoi) CHECK(e <= from_voronoi.front());
  CHECK(from_voronoi.back() < 0.1 * from_voronoi.front());
  // The failure this guards against: Adam on all of Φ from the same fitted start leaves the balance.
  CHECK(*std::max_element(adam.begin(), adam.end()) > balanced.front() + 4 * margin);
  // Output-layer steps need an output layer that reads hidden features.
  HeightNetworkSolverConfig linear = config;
  linear.hidden = {};
  linear.update = HeightNetworkUpdate::output_layer;
  CHECK(error_of([&] { HeightNetworkSolver(y, {}, linear); })
            .find("option 'update' = output_layer needs a hidden layer") != std::string::npos);
}
