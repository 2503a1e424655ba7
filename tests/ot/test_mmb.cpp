// MM-B: the batch-conjugate argmax and the objective against brute force. The solver that trains with it
// (W2Solver, W2Method::MMB) is tested in test_w2_solver.cpp.
#include <doctest/doctest.h>

#include "tests/support/errors.h"

#include <cmath>
#include <string>
#include <vector>

#include "engine/ops/ops.h"
#include "engine/random/generator.h"
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

TEST_CASE("ot: batch conjugate argmax on benchmark-sized batches: fused (D <= 8) and blocked GEMM paths, f64 and f32") {
  // 1200 x 700 scores: more than one cache-sized block (2^18 scores) and, for D > 8, the GEMM path.
  Generator gen(5);
  for (int64_t d : {2, 8, 16, 64}) {
    Tensor x = gen.normal({1200, d}, 0, 1, DType::F64), y = gen.normal({700, d}, 0, 1, DType::F64);
    Tensor psi = gen.normal({1200}, 0, 1, DType::F64);
    const std::vector<double> xv = x.to_vector<double>(), yv = y.to_vector<double>(), pv = psi.to_vector<double>();
    const std::vector<int64_t> expected = brute_force_argmax(pv, xv, yv, d);
    INFO("D = ", d);
    CHECK(batch_conjugate_argmax(psi, x, y, int64_t{1} << 22).to_vector<int64_t>() == expected);
    CHECK(batch_conjugate_argmax(psi, x, y, 100).to_vector<int64_t>() == expected);
    // f32: near-ties may flip under rounding, so the picked score must be the best within f32 error.
    const std::vector<int64_t> got =
        batch_conjugate_argmax(psi.to(DType::F32), x.to(DType::F32), y.to(DType::F32), int64_t{1} << 22)
            .to_vector<int64_t>();
    auto score = [&](int64_t i, int64_t j) {
      double s = -pv[static_cast<size_t>(i)];
      for (int64_t k = 0; k < d; ++k) s += xv[static_cast<size_t>(i * d + k)] * yv[static_cast<size_t>(j * d + k)];
      return s;
    };
    int64_t same = 0;
    for (int64_t j = 0; j < 700; ++j) {
      const size_t sj = static_cast<size_t>(j);
      CHECK(score(got[sj], j) >= score(expected[sj], j) - 1e-4 * (1.0 + static_cast<double>(d)));
      same += got[sj] == expected[sj];
    }
    CHECK(same >= 690);
  }
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
