// L2-UVP, map cosine and total variance as plain f64 loops over host copies (see l2_uvp.h).
#include "ot/metrics/l2_uvp.h"

#include <cmath>
#include <vector>

namespace brenier::ot {
namespace {

// The rows of a floating [n, D] batch as f64 host values; n ≥ min_rows.
std::vector<double> rows_of(const Tensor& t, const char* op, const char* arg, int64_t min_rows = 1) {
  check_defined(t, op, arg);
  BRENIER_CHECK(is_floating(t.dtype()) && t.dim() == 2,
                "{}: argument '{}' must be a floating [n, D] batch, got {}", op, arg, t.str());
  BRENIER_CHECK(t.size(0) >= min_rows, "{}: argument '{}' must have at least {} rows, got {}", op,
                arg, min_rows, t.str());
  return t.to_vector<double>();
}

void check_same_shape(const Tensor& a, const Tensor& b, const char* op, const char* arg_a,
                      const char* arg_b) {
  BRENIER_CHECK(a.shape() == b.shape(), "{}: arguments '{}' and '{}' must have the same shape, got {} and {}",
                op, arg_a, arg_b, shape_str(a.shape()), shape_str(b.shape()));
}

}  // namespace

double l2_uvp(const Tensor& mapped, const Tensor& reference, double target_variance) {
  const char* op = "l2_uvp";
  std::vector<double> m = rows_of(mapped, op, "mapped"), r = rows_of(reference, op, "reference");
  check_same_shape(mapped, reference, op, "mapped", "reference");
  BRENIER_CHECK(target_variance > 0 && std::isfinite(target_variance),
                "{}: argument 'target_variance' must be finite and > 0, got {}", op, target_variance);
  double sum = 0;
  for (size_t i = 0; i < m.size(); ++i) sum += (m[i] - r[i]) * (m[i] - r[i]);
  return 100.0 * (sum / static_cast<double>(mapped.size(0))) / target_variance;
}

double map_cosine(const Tensor& x, const Tensor& reference, const Tensor& mapped) {
  const char* op = "map_cosine";
  std::vector<double> xs = rows_of(x, op, "x"), r = rows_of(reference, op, "reference"),
                      m = rows_of(mapped, op, "mapped");
  check_same_shape(x, reference, op, "x", "reference");
  check_same_shape(x, mapped, op, "x", "mapped");
  // The 1/n of the three means cancels in the ratio.
  double inner = 0, ref_sq = 0, map_sq = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const double dr = r[i] - xs[i], dm = m[i] - xs[i];
    inner += dr * dm;
    ref_sq += dr * dr;
    map_sq += dm * dm;
  }
  if (ref_sq == 0 || map_sq == 0) return 0.0;
  return inner / std::sqrt(ref_sq * map_sq);
}

double total_variance(const Tensor& samples) {
  const char* op = "total_variance";
  std::vector<double> s = rows_of(samples, op, "samples", 2);
  const int64_t n = samples.size(0), d = samples.size(1);
  std::vector<double> mean(static_cast<size_t>(d), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < d; ++k) mean[k] += s[i * d + k];
  for (double& v : mean) v /= static_cast<double>(n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < d; ++k) sum += (s[i * d + k] - mean[k]) * (s[i * d + k] - mean[k]);
  return sum / static_cast<double>(n - 1);
}

}  // namespace brenier::ot
