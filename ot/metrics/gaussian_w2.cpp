// Gaussian W2² and the Bures map via symmetric square roots (see gaussian_w2.h).
#include "ot/metrics/gaussian_w2.h"

#include "engine/ops/ops.h"
#include "ot/linalg/dense.h"

namespace brenier::ot {
namespace {

struct Moments {
  Eigen::VectorXd mean;
  Eigen::MatrixXd cov;
};

Moments moments_of(const Gaussian& g, const char* op, const char* arg) {
  return {linalg::to_eigen_vector(g.mean(), op, arg), linalg::to_eigen_matrix(g.cov(), op, arg)};
}

void check_same_dim(const Gaussian& source, const Gaussian& target, const char* op) {
  BRENIER_CHECK(source.dim() == target.dim(),
                "{}: arguments 'source' and 'target' must have the same dimension, got {} and {}", op,
                source.dim(), target.dim());
}

}  // namespace

Tensor AffineMap::apply(const Tensor& x) const {
  const char* op = "AffineMap::apply";
  check_defined(x, op, "x");
  BRENIER_CHECK(matrix.defined() && offset.defined() && matrix.dim() == 2 && offset.dim() == 1 &&
                    matrix.size(0) == offset.size(0) && matrix.size(1) == offset.size(0),
                "{}: the map must have matrix [D, D] and offset [D], got {} and {}", op,
                matrix.defined() ? matrix.str() : "undefined", offset.defined() ? offset.str() : "undefined");
  BRENIER_CHECK(is_floating(x.dtype()) && x.dim() == 2 && x.size(1) == dim(),
                "{}: argument 'x' must be a floating [n, {}] batch, got {}", op, dim(), x.str());
  NoGradGuard no_grad;
  Var y = matmul(Var(x.to(DType::F64)), transpose(Var(matrix.to(DType::F64)))) +
          Var(offset.to(DType::F64));
  return y.data().to(x.dtype());
}

AffineMap AffineMap::inverse() const {
  const char* op = "AffineMap::inverse";
  Eigen::MatrixXd a = linalg::to_eigen_matrix(matrix, op, "matrix");
  Eigen::VectorXd b = linalg::to_eigen_vector(offset, op, "offset");
  BRENIER_CHECK(a.rows() == a.cols() && a.rows() == b.size(),
                "{}: the map must have matrix [D, D] and offset [D], got {} and {}", op, matrix.str(),
                offset.str());
  Eigen::FullPivLU<Eigen::MatrixXd> lu(a);
  BRENIER_CHECK(lu.isInvertible(), "{}: argument 'matrix' must be invertible, got rank {} of {}", op,
                lu.rank(), a.rows());
  Eigen::MatrixXd a_inv = lu.inverse();
  return {linalg::from_eigen(a_inv), linalg::from_eigen(Eigen::VectorXd(-a_inv * b))};
}

double gaussian_w2_squared(const Gaussian& source, const Gaussian& target) {
  const char* op = "gaussian_w2_squared";
  check_same_dim(source, target, op);
  Moments s = moments_of(source, op, "source"), t = moments_of(target, op, "target");
  Eigen::MatrixXd root1 = linalg::spd_sqrt(s.cov);
  Eigen::MatrixXd cross = linalg::spd_sqrt(root1 * t.cov * root1);
  double w2 = (s.mean - t.mean).squaredNorm() + s.cov.trace() + t.cov.trace() - 2.0 * cross.trace();
  return std::max(w2, 0.0);  // rounding can leave -1e-16 for identical Gaussians
}

AffineMap bures_map(const Gaussian& source, const Gaussian& target) {
  const char* op = "bures_map";
  check_same_dim(source, target, op);
  Moments s = moments_of(source, op, "source"), t = moments_of(target, op, "target");
  Eigen::MatrixXd root1 = linalg::spd_sqrt(s.cov);
  Eigen::MatrixXd inv_root1 = linalg::spd_inv_sqrt(s.cov);
  Eigen::MatrixXd a = inv_root1 * linalg::spd_sqrt(root1 * t.cov * root1) * inv_root1;
  a = 0.5 * (a + a.transpose()).eval();  // symmetric in exact arithmetic
  Eigen::VectorXd b = t.mean - a * s.mean;
  return {linalg::from_eigen(a), linalg::from_eigen(b)};
}

}  // namespace brenier::ot
