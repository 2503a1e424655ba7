// The length scales of a target set and H_Φ's multi-scale Fourier frequencies (see height_network_features.h).
#include "ot/solvers/height_network_features.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/error.h"

namespace brenier::ot {

FourierScales fourier_scales(const Tensor& targets, int64_t neighbours, int64_t max_points) {
  const char* op = "fourier_scales";
  check_defined(targets, op, "targets");
  BRENIER_CHECK(targets.dim() == 2 && targets.size(0) >= 2 && targets.size(1) >= 1 && is_floating(targets.dtype()),
                "{}: argument 'targets' must be a floating [n, d] tensor with n >= 2, got {}", op, targets.str());
  BRENIER_CHECK(max_points >= 2, "{}: argument 'max_points' must be >= 2, got {}", op, max_points);
  BRENIER_CHECK(neighbours >= 1, "{}: argument 'neighbours' must be >= 1, got {}", op, neighbours);
  const int64_t n = targets.size(0), d = targets.size(1);
  const std::vector<double> y = targets.to_vector<double>();
  for (double v : y) BRENIER_CHECK(std::isfinite(v), "{}: argument 'targets' must be finite", op);

  // ℓ_coarse: RMS deviation of one coordinate from its mean.
  double var = 0;
  for (int64_t k = 0; k < d; ++k) {
    double mean = 0;
    for (int64_t i = 0; i < n; ++i) mean += y[i * d + k];
    mean /= static_cast<double>(n);
    for (int64_t i = 0; i < n; ++i) var += (y[i * d + k] - mean) * (y[i * d + k] - mean);
  }
  FourierScales s;
  s.coarse = std::sqrt(var / static_cast<double>(n * d));
  BRENIER_CHECK(s.coarse > 0, "{}: argument 'targets' must not all be the same point", op);

  // ℓ_fine: median distance to the k-th nearest neighbour over a fixed-stride subset, per direction (/√d).
  const int64_t m = std::min(n, max_points);
  const int64_t k_th = std::min<int64_t>(neighbours, m - 1);
  std::vector<int64_t> idx(static_cast<size_t>(m));
  for (int64_t j = 0; j < m; ++j) idx[j] = j * n / m;
  std::vector<double> kth, dist;
  for (int64_t a : idx) {
    dist.clear();
    for (int64_t b : idx) {
      if (a == b) continue;
      double d2 = 0;
      for (int64_t c = 0; c < d; ++c) d2 += (y[a * d + c] - y[b * d + c]) * (y[a * d + c] - y[b * d + c]);
      dist.push_back(d2);
    }
    std::nth_element(dist.begin(), dist.begin() + (k_th - 1), dist.end());
    if (dist[k_th - 1] > 0) kth.push_back(std::sqrt(dist[k_th - 1]));  // duplicates say nothing of the spread
  }
  double fine = s.coarse;
  if (!kth.empty()) {
    std::nth_element(kth.begin(), kth.begin() + kth.size() / 2, kth.end());
    fine = kth[kth.size() / 2] / std::sqrt(static_cast<double>(d));
  }
  s.fine = std::min(fine, s.coarse);
  // ℓ_uniform: k-th-neighbour distance r of m points (those measured) uniform in a cube of side L = √12·ℓ_coarse (coordinate
  // spread ℓ_coarse): m·V_d·r^d = k·L^d with V_d = π^{d/2}/Γ(d/2 + 1); then / √d as ℓ_fine.
  const double dd = static_cast<double>(d);
  const double log_vd = 0.5 * dd * std::log(M_PI) - std::lgamma(0.5 * dd + 1);
  const double log_r = std::log(std::sqrt(12.0) * s.coarse) +
                       (std::log(static_cast<double>(k_th)) - std::log(static_cast<double>(m)) - log_vd) / dd;
  s.uniform = std::exp(log_r) / std::sqrt(dd);
  return s;
}

Tensor multiscale_fourier_frequencies(const Tensor& targets, int64_t count, Generator& gen) {
  BRENIER_CHECK(count >= 1, "multiscale_fourier_frequencies: argument 'count' must be >= 1, got {}", count);
  const FourierScales s = fourier_scales(targets);
  if (!s.clustered()) return Tensor();  // no scale finer than the raw path's: Table A3's input
  const int64_t d = targets.size(1);
  const std::vector<double> dir = gen.normal({count, d}, 0.0, 1.0, DType::F64).to_vector<double>();
  const std::vector<double> t = gen.uniform({count}, 0.0, 1.0, DType::F64).to_vector<double>();
  const double lo = std::log(kFourierCoarseFactor / s.coarse), hi = std::log(1 / s.fine);
  std::vector<double> B(static_cast<size_t>(d * count));  // [d, count]
  for (int64_t j = 0; j < count; ++j) {
    double norm = 0;
    for (int64_t k = 0; k < d; ++k) norm += dir[j * d + k] * dir[j * d + k];
    norm = std::sqrt(norm);
    if (norm == 0) norm = 1;  // probability 0; keeps the frequency finite
    const double radius = std::exp(lo + (hi - lo) * t[j]);
    for (int64_t k = 0; k < d; ++k) B[k * count + j] = radius * dir[j * d + k] / norm;
  }
  return Tensor::from_vector(B, {d, count}).to(targets.dtype());
}

}  // namespace brenier::ot
