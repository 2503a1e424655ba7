// Exact discrete OT (ot/discrete/assignment.h) against brute force over all assignments, and the 1-D
// case where the sorted matching is optimal for the squared cost.
#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>

#include "engine/random/generator.h"
#include "ot/discrete/assignment.h"
#include "tests/support/errors.h"

using namespace brenier;

namespace {

// Minimum over every injective map of the rows into the columns (m!/(m−n)! of them).
double brute_force_cost(const Tensor& cost) {
  const int64_t n = cost.size(0), m = cost.size(1);
  const double* c = cost.data<double>();
  std::vector<int64_t> cols(m);
  std::iota(cols.begin(), cols.end(), 0);
  double best = 1e300;
  do {
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += c[i * m + cols[i]];
    best = std::min(best, s);
  } while (std::next_permutation(cols.begin(), cols.end()));
  return best;
}

}  // namespace

TEST_CASE("solve_assignment matches brute force on random square and rectangular costs") {
  Generator gen(7);
  for (auto [n, m] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {3, 3}, {5, 5}, {6, 6}, {3, 6}, {4, 7}}) {
    for (int trial = 0; trial < 5; ++trial) {
      Tensor cost = gen.normal({n, m}, 0, 1, DType::F64);
      if (trial == 4) cost = gen.randint({n, m}, 0, 3).to(DType::F64);  // many ties
      const ot::Assignment a = ot::solve_assignment(cost);
      CAPTURE(n);
      CAPTURE(m);
      std::vector<int64_t> used = a.column_of_row;
      std::sort(used.begin(), used.end());
      CHECK(std::adjacent_find(used.begin(), used.end()) == used.end());  // distinct columns
      CHECK(used.front() >= 0);
      CHECK(used.back() < m);
      CHECK(a.total_cost == doctest::Approx(brute_force_cost(cost)).epsilon(1e-12));
    }
  }
}

TEST_CASE("exact_ot_uniform in 1-D is the sorted matching") {
  Generator gen(3);
  const int64_t n = 300;
  const Tensor x = gen.normal({n, 1}, 0, 1, DType::F64), y = gen.uniform({n, 1}, 0, 4, DType::F64);
  const ot::EmpiricalOt plan = ot::exact_ot_uniform(x, y);
  std::vector<double> xs(x.data<double>(), x.data<double>() + n), ys(y.data<double>(), y.data<double>() + n);
  std::sort(xs.begin(), xs.end());
  std::sort(ys.begin(), ys.end());
  double sorted_cost = 0;
  for (int64_t i = 0; i < n; ++i) sorted_cost += (xs[i] - ys[i]) * (xs[i] - ys[i]);
  CHECK(plan.w2_squared == doctest::Approx(sorted_cost / n).epsilon(1e-12));
  // The plan is monotone: a larger x never goes to a smaller y.
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < n; ++k)
      if (x.data<double>()[i] < x.data<double>()[k])
        REQUIRE(y.data<double>()[plan.target_of_source[i]] <= y.data<double>()[plan.target_of_source[k]]);
}

TEST_CASE("exact OT rejects bad input by name") {
  Generator gen(1);
  CHECK(error_of([&] { (void)ot::solve_assignment(gen.normal({4, 3}, 0, 1, DType::F64)); }).find("'cost'") != std::string::npos);
  Tensor nan_cost = Tensor::zeros({2, 2}, DType::F64);
  nan_cost.data<double>()[3] = std::nan("");
  CHECK(error_of([&] { (void)ot::solve_assignment(nan_cost); }).find("must be finite") != std::string::npos);
  CHECK(error_of([&] { (void)ot::exact_ot_uniform(gen.normal({4, 2}), gen.normal({5, 2})); }).find("same number") != std::string::npos);
  CHECK(error_of([&] { (void)ot::exact_ot_uniform(gen.normal({4, 2}), gen.normal({4, 3})); }).find("same dimension") != std::string::npos);
}
