// The shortest-augmenting-path Hungarian method (see assignment.h).
#include "ot/discrete/assignment.h"

#include <cmath>
#include <limits>

#include "engine/error.h"

namespace brenier::ot {
namespace {

void check_points(const Tensor& t, const char* name) {
  BRENIER_CHECK(t.defined() && is_floating(t.dtype()) && t.dim() == 2 && t.size(0) >= 1 && t.size(1) >= 1,
                "exact OT: argument '{}' must be a floating [n, D] point set with n, D >= 1, got {}", name,
                t.defined() ? t.str() : "an undefined tensor");
}

}  // namespace

Assignment solve_assignment(const Tensor& cost) {
  BRENIER_CHECK(cost.defined() && is_floating(cost.dtype()) && cost.dim() == 2 && cost.size(0) >= 1 &&
                    cost.size(0) <= cost.size(1),
                "solve_assignment: argument 'cost' must be a floating [n, m] matrix with 1 <= n <= m, got {}",
                cost.defined() ? cost.str() : "an undefined tensor");
  const Tensor c = cost.to(DType::F64).to(Device::cpu());
  const int64_t n = c.size(0), m = c.size(1);
  const double* a = c.data<double>();
  for (int64_t k = 0; k < n * m; ++k)
    BRENIER_CHECK(std::isfinite(a[k]), "solve_assignment: argument 'cost' must be finite, entry ({}, {}) is {}",
                  k / m, k % m, a[k]);

  // 1-based with a virtual column 0, as in the textbook formulation: row_of[j] is the row matched to
  // column j (0: none); u, v are the dual potentials (u_i + v_j ≤ c_ij, equality on matched pairs).
  constexpr double kInf = std::numeric_limits<double>::infinity();
  std::vector<double> u(n + 1, 0.0), v(m + 1, 0.0), min_reduced(m + 1);
  std::vector<int64_t> row_of(m + 1, 0), previous(m + 1, 0);
  std::vector<char> visited(m + 1);
  for (int64_t i = 1; i <= n; ++i) {
    // Grow a tree of tight edges from row i (Dijkstra on reduced costs) until it reaches a free column,
    // then flip the matching along the path.
    row_of[0] = i;
    int64_t col = 0;
    std::fill(min_reduced.begin(), min_reduced.end(), kInf);
    std::fill(visited.begin(), visited.end(), 0);
    do {
      visited[col] = 1;
      const int64_t row = row_of[col];
      const double* cost_row = a + (row - 1) * m;
      double delta = kInf;
      int64_t next = 0;
      for (int64_t j = 1; j <= m; ++j) {
        if (visited[j]) continue;
        const double reduced = cost_row[j - 1] - u[row] - v[j];
        if (reduced < min_reduced[j]) {
          min_reduced[j] = reduced;
          previous[j] = col;
        }
        if (min_reduced[j] < delta) {
          delta = min_reduced[j];
          next = j;
        }
      }
      for (int64_t j = 0; j <= m; ++j) {
        if (visited[j]) {
          u[row_of[j]] += delta;
          v[j] -= delta;
        } else {
          min_reduced[j] -= delta;
        }
      }
      col = next;
    } while (row_of[col] != 0);
    do {
      const int64_t prev = previous[col];
      row_of[col] = row_of[prev];
      col = prev;
    } while (col != 0);
  }

  Assignment result;
  result.column_of_row.assign(n, -1);
  for (int64_t j = 1; j <= m; ++j)
    if (row_of[j] != 0) result.column_of_row[row_of[j] - 1] = j - 1;
  for (int64_t i = 0; i < n; ++i) result.total_cost += a[i * m + result.column_of_row[i]];
  return result;
}

Tensor squared_distances(const Tensor& x, const Tensor& y) {
  check_points(x, "x");
  check_points(y, "y");
  BRENIER_CHECK(x.size(1) == y.size(1), "exact OT: arguments 'x' and 'y' must have the same dimension, got {} and {}",
                x.str(), y.str());
  const Tensor xd = x.to(DType::F64).to(Device::cpu()), yd = y.to(DType::F64).to(Device::cpu());
  const int64_t n = xd.size(0), m = yd.size(0), d = xd.size(1);
  Tensor out = Tensor::empty({n, m}, DType::F64);
  const double *px = xd.data<double>(), *py = yd.data<double>();
  double* po = out.data<double>();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j) {
      double s = 0;
      for (int64_t k = 0; k < d; ++k) {
        const double diff = px[i * d + k] - py[j * d + k];
        s += diff * diff;
      }
      po[i * m + j] = s;
    }
  return out;
}

EmpiricalOt exact_ot_uniform(const Tensor& x, const Tensor& y) {
  check_points(x, "x");
  check_points(y, "y");
  BRENIER_CHECK(x.size(0) == y.size(0),
                "exact_ot_uniform: arguments 'x' and 'y' must hold the same number of points (uniform weights), got "
                "{} and {}",
                x.str(), y.str());
  Assignment a = solve_assignment(squared_distances(x, y));
  EmpiricalOt result;
  result.w2_squared = a.total_cost / static_cast<double>(x.size(0));
  result.target_of_source = std::move(a.column_of_row);
  return result;
}

}  // namespace brenier::ot
