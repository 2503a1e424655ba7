// w2bench's figure: in any dimension, the source points x, the true map T*(x) and the fitted ∇ψ(x),
// projected on the first two principal directions of the target sample T*(x) so that the plane shows
// as much of the target's spread as two axes can. PCA is the f64 symmetric eigendecomposition of the
// sample covariance (Eigen, through ot/linalg/dense.h).
#include <Eigen/Dense>
#include <algorithm>

#include "ot/linalg/dense.h"
#include "tools/common/png.h"
#include "tools/w2bench/tool.h"

namespace brenier::w2bench_tool {
namespace {

constexpr const char* kOp = "save_map_figure";

// The two leading eigenvectors of the covariance of `target` [n, D] as the columns of a [D, 2] matrix
// (a 1-D problem gets a zero second axis), each signed so that its largest entry is positive: the
// eigensolver's sign is arbitrary, and figures of reruns should not flip.
Eigen::MatrixXd principal_plane(const Eigen::MatrixXd& target, const Eigen::RowVectorXd& mean) {
  const Eigen::MatrixXd centered = target.rowwise() - mean;
  const Eigen::MatrixXd covariance =
      centered.transpose() * centered / static_cast<double>(std::max<Eigen::Index>(1, target.rows() - 1));
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(covariance);
  BRENIER_CHECK(eig.info() == Eigen::Success, "{}: the eigendecomposition of the {}x{} target covariance failed", kOp,
                covariance.rows(), covariance.cols());
  const Eigen::Index d = covariance.rows();
  Eigen::MatrixXd plane = Eigen::MatrixXd::Zero(d, 2);
  for (Eigen::Index k = 0; k < std::min<Eigen::Index>(2, d); ++k) {
    Eigen::VectorXd v = eig.eigenvectors().col(d - 1 - k);  // eigenvalues come in increasing order
    Eigen::Index largest = 0;
    v.cwiseAbs().maxCoeff(&largest);
    plane.col(k) = v(largest) < 0 ? Eigen::VectorXd(-v) : v;
  }
  return plane;
}

std::vector<tools::Point2> project(const Eigen::MatrixXd& points, const Eigen::RowVectorXd& mean,
                                   const Eigen::MatrixXd& plane, int64_t count) {
  const Eigen::MatrixXd projected = (points.topRows(count).rowwise() - mean) * plane;
  std::vector<tools::Point2> out(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) out[static_cast<size_t>(i)] = {projected(i, 0), projected(i, 1)};
  return out;
}

}  // namespace

void save_map_figure(const fs::path& path, const Tensor& x, const Tensor& true_map, const Tensor& fitted) {
  const Eigen::MatrixXd xs = ot::linalg::to_eigen_matrix(x, kOp, "x");
  const Eigen::MatrixXd ts = ot::linalg::to_eigen_matrix(true_map, kOp, "true_map");
  const Eigen::MatrixXd fs_ = ot::linalg::to_eigen_matrix(fitted, kOp, "fitted");
  BRENIER_CHECK(xs.rows() == ts.rows() && xs.rows() == fs_.rows() && xs.cols() == ts.cols() &&
                    xs.cols() == fs_.cols() && xs.rows() >= 1,
                "{}: arguments 'x', 'true_map' and 'fitted' must share a non-empty [n, D] shape, got {}, {} and {}",
                kOp, x.str(), true_map.str(), fitted.str());
  const Eigen::RowVectorXd mean = ts.colwise().mean();
  const Eigen::MatrixXd plane = principal_plane(ts, mean);
  const int64_t n = std::min<int64_t>(kFigurePoints, xs.rows());
  const std::vector<tools::Point2> source = project(xs, mean, plane, n), truth = project(ts, mean, plane, n),
                                   fit = project(fs_, mean, plane, n);
  // Palette 0, 1, 2: blue source, orange truth, green fit.
  tools::Canvas canvas = tools::scatter_plot({source, truth, fit}, 800, 800, 2.0, 0.5);
  for (int64_t i = 0; i < std::min(kFigureErrorSegments, n); ++i)
    canvas.line(truth[static_cast<size_t>(i)], fit[static_cast<size_t>(i)], tools::palette_color(7, 0.7), 1.0);
  canvas.save(path);
}

}  // namespace brenier::w2bench_tool
