// OT-Net's warm start (issue 6, color transfer): HeightNetworkSolver::fit_heights solves for H_Φ's output
// layer in closed form, so H_Φ reproduces given heights (up to a constant) when the last hidden width is
// ≥ n − 1; a warm start from a converged free-height solve meets δ at OT-Net's first checks and gives the
// heights of a cold OT-Net solve; the solvers' geometric lr decay (lr_final).
#include <doctest/doctest.h>

#include "tests/support/errors.h"

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
