// Tensor <-> Eigen conversions, SPD checks and symmetric square roots (see dense.h).
#include "ot/linalg/dense.h"

#include <cmath>
#include <vector>

namespace brenier::ot::linalg {
namespace {

void check_floating_tensor(const Tensor& t, const char* op, const char* arg) {
  check_defined(t, op, arg);
  BRENIER_CHECK(is_floating(t.dtype()), "{}: argument '{}' must be f32 or f64, got {}", op, arg,
                t.str());
}

// V diag(f(λ)) Vᵀ for a symmetric matrix.
template <class F>
Eigen::MatrixXd symmetric_function(const Eigen::MatrixXd& m, F&& f) {
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(m);
  BRENIER_CHECK(eig.info() == Eigen::Success,
                "spd_sqrt: the symmetric eigendecomposition of a {}x{} matrix did not converge",
                m.rows(), m.cols());
  Eigen::VectorXd values = eig.eigenvalues().unaryExpr(f);
  return eig.eigenvectors() * values.asDiagonal() * eig.eigenvectors().transpose();
}

}  // namespace

Eigen::VectorXd to_eigen_vector(const Tensor& t, const char* op, const char* arg) {
  check_floating_tensor(t, op, arg);
  BRENIER_CHECK(t.dim() == 1, "{}: argument '{}' must be 1-D [D], got {}", op, arg, t.str());
  std::vector<double> values = t.to_vector<double>();
  return Eigen::Map<Eigen::VectorXd>(values.data(), static_cast<Eigen::Index>(values.size()));
}

Eigen::MatrixXd to_eigen_matrix(const Tensor& t, const char* op, const char* arg) {
  check_floating_tensor(t, op, arg);
  BRENIER_CHECK(t.dim() == 2, "{}: argument '{}' must be 2-D, got {}", op, arg, t.str());
  std::vector<double> values = t.to_vector<double>();
  // Tensors are row-major; Eigen's default is column-major.
  using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  return Eigen::Map<RowMajor>(values.data(), t.size(0), t.size(1));
}

Tensor from_eigen(const Eigen::VectorXd& v) {
  std::vector<double> values(v.data(), v.data() + v.size());
  return Tensor::from_vector(values, Shape{static_cast<int64_t>(v.size())});
}

Tensor from_eigen(const Eigen::MatrixXd& m) {
  using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  RowMajor row_major = m;
  std::vector<double> values(row_major.data(), row_major.data() + row_major.size());
  return Tensor::from_vector(values, Shape{static_cast<int64_t>(m.rows()), static_cast<int64_t>(m.cols())});
}

void check_spd(const Eigen::MatrixXd& m, const char* op, const char* arg) {
  BRENIER_CHECK(m.rows() == m.cols() && m.rows() > 0,
                "{}: argument '{}' must be a non-empty square matrix, got {}x{}", op, arg, m.rows(),
                m.cols());
  BRENIER_CHECK(m.allFinite(), "{}: argument '{}' must be finite, got a NaN or Inf entry", op, arg);
  const double scale = m.cwiseAbs().maxCoeff();
  const double asymmetry = (m - m.transpose()).cwiseAbs().maxCoeff();
  BRENIER_CHECK(asymmetry <= 1e-8 * scale,
                "{}: argument '{}' must be symmetric, got max |M - Mᵀ| = {:.3g} (max |M| = {:.3g})",
                op, arg, asymmetry, scale);
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(m, Eigen::EigenvaluesOnly);
  BRENIER_CHECK(eig.info() == Eigen::Success,
                "{}: argument '{}': the eigendecomposition of the {}x{} matrix did not converge", op,
                arg, m.rows(), m.cols());
  const double smallest = eig.eigenvalues().minCoeff(), largest = eig.eigenvalues().maxCoeff();
  BRENIER_CHECK(smallest > 1e-12 * largest && largest > 0,
                "{}: argument '{}' must be positive definite, got eigenvalues in [{:.3g}, {:.3g}]", op,
                arg, smallest, largest);
}

Eigen::MatrixXd spd_sqrt(const Eigen::MatrixXd& m) {
  return symmetric_function(m, [](double l) { return std::sqrt(std::max(l, 0.0)); });
}

Eigen::MatrixXd spd_inv_sqrt(const Eigen::MatrixXd& m) {
  return symmetric_function(m, [](double l) { return 1.0 / std::sqrt(l); });
}

}  // namespace brenier::ot::linalg
