// Exact discrete optimal transport between two uniform empirical measures of equal size.
//
// With n points on each side and uniform weights, an optimal coupling can be taken to be a permutation
// (Birkhoff–von Neumann), so exact OT is the linear assignment problem. solve_assignment() is the
// shortest-augmenting-path Hungarian method with dual potentials (Kuhn 1955; Jonker & Volgenant 1987;
// Burkard, Dell'Amico & Martello, "Assignment Problems", §4.4): O(n²m) time, O(m) memory beyond the
// cost matrix. It is exact, so it is the reference for everything approximate: a learned map scored
// against the true OT map of two samples, the exact W2 between mapped points and target points (DIOTM),
// OT between samples (NCTM's sensitivity indices). n = 1000 takes about a second on one core.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace brenier::ot {

struct Assignment {
  std::vector<int64_t> column_of_row;  // row i → its column; distinct columns
  double total_cost = 0;               // Σ_i cost[i, column_of_row[i]]
};

// Minimum-cost assignment of each row of `cost` [n, m] (f32 or f64, finite, 1 ≤ n ≤ m) to a distinct
// column. Throws naming the argument for any other shape, dtype or a non-finite entry.
Assignment solve_assignment(const Tensor& cost);

// Squared Euclidean distances ‖x_i − y_j‖² [n, m] in f64 (x [n, D], y [m, D], finite).
Tensor squared_distances(const Tensor& x, const Tensor& y);

struct EmpiricalOt {
  std::vector<int64_t> target_of_source;  // the optimal permutation σ: x_i ↦ y_σ(i)
  double w2_squared = 0;                  // (1/n) Σ_i ‖x_i − y_σ(i)‖², the exact W2² of the two samples
};

// Exact quadratic-cost OT between the uniform measures on the rows of x [n, D] and y [n, D].
EmpiricalOt exact_ot_uniform(const Tensor& x, const Tensor& y);

}  // namespace brenier::ot
