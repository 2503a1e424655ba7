// The W2 benchmark's map scores and baselines (see w2bench_metrics.h).
#include "ot/metrics/w2bench_metrics.h"

#include <cmath>
#include <limits>

#include "ot/linalg/dense.h"
#include "ot/metrics/gaussian_w2.h"
#include "ot/metrics/l2_uvp.h"
#include "ot/samplers/gaussian.h"

namespace brenier::ot {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_pair(const Tensor& x, const Tensor& y, const char* op) {
  check_defined(x, op, "x");
  check_defined(y, op, "y");
  BRENIER_CHECK(is_floating(x.dtype()) && x.dim() == 2 && x.size(0) >= 2 && x.shape() == y.shape(),
                "{}: arguments 'x' and 'y' must be floating [n, D] batches of the same shape with n >= 2, got {} and {}",
                op, x.str(), y.str());
}

void check_variance(double v, const char* op, const char* arg) {
  BRENIER_CHECK(std::isfinite(v) && v > 0, "{}: argument '{}' must be finite and > 0, got {}", op, arg, v);
}

// The Gaussian with the sample mean and (1/(n−1)) covariance of the rows of `samples`.
Gaussian fit_gaussian(const Tensor& samples) {
  Eigen::MatrixXd s = linalg::to_eigen_matrix(samples, "score_baselines", "fit");
  Eigen::VectorXd mean = s.colwise().mean();
  Eigen::MatrixXd centered = s.rowwise() - mean.transpose();
  Eigen::MatrixXd cov = (centered.transpose() * centered) / static_cast<double>(s.rows() - 1);
  return Gaussian(linalg::from_eigen(mean), linalg::from_eigen(cov));
}

// n copies of the row `value` [D], in `dtype`.
Tensor repeat_row(const Tensor& value, int64_t n, DType dtype) {
  std::vector<double> row = value.to_vector<double>(), out;
  out.reserve(static_cast<size_t>(n) * row.size());
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), row.begin(), row.end());
  return Tensor::from_vector(out, {n, static_cast<int64_t>(row.size())}).to(dtype);
}

}  // namespace

MapScores score_maps(const Tensor& x, const Tensor& y, const Tensor& forward_mapped, const Tensor& inverse_mapped,
                     double source_variance, double target_variance) {
  const char* op = "score_maps";
  check_pair(x, y, op);
  check_variance(source_variance, op, "source_variance");
  check_variance(target_variance, op, "target_variance");
  MapScores s{kNaN, kNaN, kNaN, kNaN};
  // l2_uvp and map_cosine check the mapped tensors' shapes against x and y.
  if (forward_mapped.defined()) {
    s.l2uvp_fwd = l2_uvp(forward_mapped, y, target_variance);
    s.cos_fwd = map_cosine(x, y, forward_mapped);
  }
  if (inverse_mapped.defined()) {
    s.l2uvp_inv = l2_uvp(inverse_mapped, x, source_variance);
    s.cos_inv = map_cosine(y, x, inverse_mapped);
  }
  return s;
}

MapScores score_maps(const W2Benchmark& bench, const W2Benchmark::Pair& eval, const Tensor& forward_mapped,
                     const Tensor& inverse_mapped) {
  return score_maps(eval.x, eval.y, forward_mapped, inverse_mapped, bench.source_variance(), bench.target_variance());
}

BaselineScores score_baselines(const W2Benchmark::Pair& fit, const W2Benchmark::Pair& eval, double source_variance,
                               double target_variance) {
  const char* op = "score_baselines";
  check_pair(fit.x, fit.y, op);
  check_pair(eval.x, eval.y, op);
  BRENIER_CHECK(fit.x.size(1) == eval.x.size(1), "{}: 'fit' and 'eval' must have the same dimension, got {} and {}",
                op, fit.x.str(), eval.x.str());
  const int64_t n = eval.x.size(0);
  const DType dtype = eval.x.dtype();
  BaselineScores out{};

  out.identity = score_maps(eval.x, eval.y, eval.x, eval.y, source_variance, target_variance);
  out.identity.cos_fwd = out.identity.cos_inv = 0.0;  // the convention (the displacement is zero)

  const Gaussian source = fit_gaussian(fit.x), target = fit_gaussian(fit.y);
  out.constant = score_maps(eval.x, eval.y, repeat_row(target.mean(), n, dtype), repeat_row(source.mean(), n, dtype),
                            source_variance, target_variance);
  out.constant.l2uvp_fwd = out.constant.l2uvp_inv = 100.0;  // by definition

  out.linear = score_maps(eval.x, eval.y, bures_map(source, target).apply(eval.x), bures_map(target, source).apply(eval.y),
                          source_variance, target_variance);
  return out;
}

BaselineScores score_baselines(const W2Benchmark& bench, int64_t fit_samples, const W2Benchmark::Pair& eval,
                               Generator& gen) {
  BRENIER_CHECK(fit_samples >= 2, "score_baselines: argument 'fit_samples' must be >= 2, got {}", fit_samples);
  return score_baselines(bench.sample_pair(fit_samples, gen), eval, bench.source_variance(), bench.target_variance());
}

}  // namespace brenier::ot
