// MM-B: the batch-conjugate argmax and the objective against brute force, a short 2-D training run
// against the closed-form Gaussian OT map, checkpoint round trips, and divergence handling.
#include <doctest/doctest.h>

#include "tests/support/errors.h"
#include "tests/support/single_thread.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/ops/ops.h"
#include "ot/metrics/gaussian_w2.h"
#include "ot/metrics/l2_uvp.h"
#include "ot/samplers/gaussian.h"
#include "ot/solvers/mmb.h"

using namespace brenier;
using namespace brenier::ot;

namespace {

// argmax_i ⟨x_i, y_j⟩ − psi_i by loops.
std::vector<int64_t> brute_force_argmax(const std::vector<double>& psi, const std::vector<double>& x,
                                        const std::vector<double>& y, int64_t d) {
  const int64_t nx = static_cast<int64_t>(psi.size()), ny = static_cast<int64_t>(y.size()) / d;
  std::vector<int64_t> out(ny);
  for (int64_t j = 0; j < ny; ++j) {
    double best = -INFINITY;
    for (int64_t i = 0; i < nx; ++i) {
      double s = -psi[i];
      for (int64_t k = 0; k < d; ++k) s += x[i * d + k] * y[j * d + k];
      if (s > best) best = s, out[j] = i;
    }
  }
  return out;
}

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("brenier_test_mmb_" + name);
}

MmbConfig small_config(int64_t iters = 10) {
  MmbConfig config;
  config.dim = 2;
  config.hidden = {16, 8};
  config.batch = 64;
  config.iters = iters;
  config.seed = 3;
  return config;
}

}  // namespace

TEST_CASE("ot: batch conjugate argmax matches brute force, in any chunking") {
  Generator gen(1);
  Tensor x = gen.normal({37, 3}, 0, 1, DType::F64), y = gen.normal({23, 3}, 0, 1, DType::F64);
  Tensor psi = gen.normal({37}, 0, 1, DType::F64);
  std::vector<int64_t> expected =
      brute_force_argmax(psi.to_vector<double>(), x.to_vector<double>(), y.to_vector<double>(), 3);
  for (int64_t chunk : {1, 5, 23, 1000}) CHECK(batch_conjugate_argmax(psi, x, y, chunk).to_vector<int64_t>() == expected);
  CHECK(error_of([&] { batch_conjugate_argmax(psi, x, gen.normal({4, 2}, 0, 1, DType::F64), 8); })
            .find("'y' must have x's dimension 3") != std::string::npos);
  CHECK(error_of([&] { batch_conjugate_argmax(psi.to(DType::F32), x, y, 8); }).find("must share a dtype") !=
        std::string::npos);
}

TEST_CASE("ot: MM-B objective value, gradient and W2 estimate against brute force") {
  Generator gen(2);
  const int64_t nx = 19, ny = 11, d = 2;
  Tensor x = gen.normal({nx, d}, 0, 1, DType::F64), y = gen.normal({ny, d}, 0.5, 1, DType::F64);
  Var psi(gen.normal({nx}, 0, 1, DType::F64), /*requires_grad=*/true);
  std::vector<double> p = psi.data().to_vector<double>(), xs = x.to_vector<double>(), ys = y.to_vector<double>();

  MmbObjective objective = mmb_objective(psi, x, y, /*max_score_elements=*/nx * 4);  // 4-row chunks
  // L(ψ) = mean_i ψ_i + mean_j max_i (⟨x_i, y_j⟩ − ψ_i).
  double expected = 0, sq = 0;
  for (double v : p) expected += v / nx;
  std::vector<int64_t> sigma = brute_force_argmax(p, xs, ys, d);
  std::vector<double> counts(nx, 0.0);
  for (int64_t j = 0; j < ny; ++j) {
    const int64_t i = sigma[j];
    counts[i] += 1;
    expected += (xs[i * d] * ys[j * d] + xs[i * d + 1] * ys[j * d + 1] - p[i]) / ny;
  }
  CHECK(objective.loss.item() == doctest::Approx(expected).epsilon(1e-12));
  for (int64_t i = 0; i < nx; ++i) sq += (xs[i * d] * xs[i * d] + xs[i * d + 1] * xs[i * d + 1]) / nx;
  for (int64_t j = 0; j < ny; ++j) sq += (ys[j * d] * ys[j * d] + ys[j * d + 1] * ys[j * d + 1]) / ny;
  CHECK(objective.w2_squared == doctest::Approx(sq - 2 * expected).epsilon(1e-12));
  // Danskin: dL/dψ_i = 1/n_x − (times i is the argmax)/n_y.
  objective.loss.backward();
  std::vector<double> g = psi.grad().to_vector<double>();
  for (int64_t i = 0; i < nx; ++i) CHECK(g[i] == doctest::Approx(1.0 / nx - counts[i] / ny).epsilon(1e-12));

  // ψ = ½‖x‖² on y = x: the batch conjugate is exact (ψ*(y_j) = ½‖y_j‖², attained at i = j), so the
  // W2² estimate between a batch and itself is 0.
  std::vector<double> half_sq(nx);
  for (int64_t i = 0; i < nx; ++i) half_sq[i] = 0.5 * (xs[i * d] * xs[i * d] + xs[i * d + 1] * xs[i * d + 1]);
  MmbObjective self = mmb_objective(Var(Tensor::from_vector(half_sq, {nx})), x, x);
  CHECK(std::abs(self.w2_squared) < 1e-12);
}

TEST_CASE("ot: MmbSolver validates its config and batches") {
  MmbConfig config = small_config();
  config.batch = 0;
  CHECK(error_of([&] { MmbSolver{config}; }).find("MmbSolver: config 'batch' must be >= 1, got 0") != std::string::npos);
  config = small_config();
  config.lr = -1;
  CHECK(error_of([&] { MmbSolver{config}; }).find("'lr' must be finite and > 0") != std::string::npos);
  MmbSolver solver(small_config());
  Generator gen(0);
  CHECK(error_of([&] { solver.step(gen.normal({8, 3}), gen.normal({8, 2})); })
            .find("MmbSolver::step: argument 'x' must be [n, 2] (the solver's dim), got f32[8, 3]") != std::string::npos);
  CHECK(error_of([&] { solver.transport(gen.normal({8})); }).find("MmbSolver::transport: argument 'x'") !=
        std::string::npos);
  CHECK(MmbSolver(MmbConfig{}).potential().hidden() == std::vector<int64_t>{64, 64, 32});
}

TEST_CASE("ot: MmbSolver checkpoints round-trip networks, Adam state and step count") {
  Generator data(4);
  MmbSolver a(small_config());
  for (int i = 0; i < 3; ++i) a.step(data.normal({64, 2}), data.normal({64, 2}, 1.0));
  const auto path = temp_path("roundtrip.safetensors");
  a.save(path.string());

  MmbConfig other_seed = small_config();
  other_seed.seed = 99;  // different initial weights, overwritten by load
  MmbSolver b(other_seed);
  b.load(path.string());
  CHECK(b.steps_done() == 3);
  Tensor probe = data.normal({10, 2});
  CHECK(a.transport(probe).to_vector<float>() == b.transport(probe).to_vector<float>());
  CHECK(a.inverse_transport(probe).to_vector<float>() == b.inverse_transport(probe).to_vector<float>());
  // Resuming continues identically, which needs Adam's moments too.
  Tensor x = data.normal({64, 2}), y = data.normal({64, 2}, 1.0);
  StepStats sa = a.step(x, y), sb = b.step(x, y);
  CHECK(sa.step == 4);
  CHECK(sb.step == 4);
  CHECK(sa.loss == sb.loss);
  CHECK(a.transport(probe).to_vector<float>() == b.transport(probe).to_vector<float>());

  MmbConfig wider = small_config();
  wider.hidden = {16, 16};
  MmbSolver c(wider);
  CHECK(error_of([&] { c.load(path.string()); }).find("hidden sizes [16,8]") != std::string::npos);
  std::filesystem::remove(path);
}

TEST_CASE("ot: MmbSolver stops on a non-finite loss, naming the step and keeping the last good weights") {
  Generator data(5);
  MmbSolver solver(small_config());
  solver.step(data.normal({64, 2}), data.normal({64, 2}));
  solver.step(data.normal({64, 2}), data.normal({64, 2}));
  Tensor probe = data.normal({10, 2});
  std::vector<float> before = solver.transport(probe).to_vector<float>();
  std::vector<float> poisoned(128, 0.0f);
  poisoned[7] = NAN;
  std::string message = error_of([&] { solver.step(Tensor::from_vector(poisoned, {64, 2}), data.normal({64, 2})); });
  CHECK(message.find("training diverged at step 3") != std::string::npos);
  CHECK(message.find("left as after step 2") != std::string::npos);
  CHECK(solver.steps_done() == 2);
  CHECK(solver.transport(probe).to_vector<float>() == before);
}

TEST_CASE("ot: MM-B learns the 2-D Gaussian OT map (L2-UVP against the Bures map)") {
  SingleThreadScope one_thread;
  Generator pair(101);
  Gaussian mu = random_gaussian(2, pair), nu = random_gaussian(2, pair);
  AffineMap truth = bures_map(mu, nu);
  MmbConfig config;  // bench ICNN [64, 64, 32], Adam 1e-3, batch 1024
  config.dim = 2;
  config.iters = 600;
  config.cosine_decay = true;
  config.seed = 1;
  MmbSolver solver(config);
  Generator data(201);
  solver.train([&](int64_t n) { return mu.sample(n, data); }, [&](int64_t n) { return nu.sample(n, data); });
  CHECK(solver.steps_done() == 600);

  Tensor x = mu.sample(4096, data), y = truth.apply(x);
  const double forward = l2_uvp(solver.transport(x), y, nu.total_variance());
  const double inverse = l2_uvp(solver.inverse_transport(y), x, mu.total_variance());
  const double identity = l2_uvp(x, y, nu.total_variance());
  MESSAGE("L2-UVP forward ", forward, "%, inverse ", inverse, "%, identity ", identity, "%");
  // Bound: this pair and setting, measured with solver seeds 0..7 (same data stream), reached forward
  // 0.39–1.18% and inverse 0.31–1.22% (longer runs reach ≈0.15%). 3% leaves 2.5× margin over the worst
  // seed and is 30× below the identity map (≈93%). Measured failure modes it catches: the s = 1 bench
  // ICNN (∇ψ − x forced monotone, while this map contracts) stalls at 19% forward here (16% after 3000
  // steps); a broken loss, conjugate or map does not get near 3%.
  CHECK(identity > 80.0);
  CHECK(forward < 3.0);
  CHECK(inverse < 3.0);
  CHECK(map_cosine(x, y, solver.transport(x)) > 0.99);
}
