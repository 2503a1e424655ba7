// Test-only references for the OT tests, written independently of ot/ (no Eigen, no engine ops):
// eigenvalues of small symmetric matrices by cyclic Jacobi rotations, and sample moments of a batch.
#pragma once
#include <cmath>
#include <vector>

#include "engine/ops/ops.h"
#include "engine/tensor.h"

namespace ot_test {

// Per-point Hessians [n][D*D] of a potential by double backward: row k of H(x_i) is ∇(∂ψ/∂x_k) at x_i.
// `net` is anything with map(x, create_graph) = ∇ψ(x) (Icnn, DenseIcnn).
template <class Net>
std::vector<std::vector<double>> hessians(const Net& net, const brenier::Tensor& points) {
  using namespace brenier;
  const int64_t n = points.size(0), d = points.size(1);
  Var x(points, /*requires_grad=*/true);
  Var g = net.map(x, /*create_graph=*/true);
  std::vector<std::vector<double>> h(n, std::vector<double>(d * d));
  for (int64_t k = 0; k < d; ++k) {
    std::vector<double> row = grad({sum(slice(g, 1, k, k + 1))}, {x})[0].data().to_vector<double>();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t l = 0; l < d; ++l) h[i][k * d + l] = row[i * d + l];
  }
  return h;
}


// Eigenvalues (unsorted) of the symmetric n×n row-major matrix `a`.
inline std::vector<double> symmetric_eigenvalues(std::vector<double> a, int n) {
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (int p = 0; p < n; ++p)
      for (int q = p + 1; q < n; ++q) off += a[p * n + q] * a[p * n + q];
    if (off < 1e-26) break;
    for (int p = 0; p < n; ++p)
      for (int q = p + 1; q < n; ++q) {
        if (std::abs(a[p * n + q]) < 1e-300) continue;
        const double theta = (a[q * n + q] - a[p * n + p]) / (2 * a[p * n + q]);
        const double t = (theta >= 0 ? 1 : -1) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < n; ++k) {  // columns p, q
          const double akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (int k = 0; k < n; ++k) {  // rows p, q
          const double apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
      }
  }
  std::vector<double> out(n);
  for (int i = 0; i < n; ++i) out[i] = a[i * n + i];
  return out;
}

inline double min_eigenvalue(const std::vector<double>& a, int n) {
  double m = INFINITY;
  for (double v : symmetric_eigenvalues(a, n)) m = std::min(m, v);
  return m;
}

struct Moments {
  std::vector<double> mean;  // [D]
  std::vector<double> cov;   // [D*D], 1/(n-1)
};

// Sample mean and covariance of the rows of an [n, D] tensor.
inline Moments sample_moments(const brenier::Tensor& x) {
  const int64_t n = x.size(0), d = x.size(1);
  std::vector<double> v = x.to_vector<double>();
  Moments m{std::vector<double>(d, 0.0), std::vector<double>(d * d, 0.0)};
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < d; ++k) m.mean[k] += v[i * d + k] / static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < d; ++k)
      for (int64_t l = 0; l < d; ++l)
        m.cov[k * d + l] += (v[i * d + k] - m.mean[k]) * (v[i * d + l] - m.mean[l]) / static_cast<double>(n - 1);
  return m;
}

}  // namespace ot_test
