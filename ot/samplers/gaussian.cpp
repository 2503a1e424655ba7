// Gaussian: validation, Cholesky sampling and random SPD covariances (see gaussian.h).
#include "ot/samplers/gaussian.h"

#include <cmath>

#include "engine/ops/ops.h"
#include "ot/linalg/dense.h"

namespace brenier::ot {

Gaussian::Gaussian(const Tensor& mean, const Tensor& cov) {
  const char* op = "Gaussian";
  Eigen::VectorXd m = linalg::to_eigen_vector(mean, op, "mean");
  Eigen::MatrixXd s = linalg::to_eigen_matrix(cov, op, "cov");
  BRENIER_CHECK(m.size() > 0, "{}: argument 'mean' must have at least one entry, got {}", op,
                mean.str());
  BRENIER_CHECK(m.allFinite(), "{}: argument 'mean' must be finite, got a NaN or Inf entry", op);
  BRENIER_CHECK(s.rows() == m.size() && s.cols() == m.size(),
                "{}: argument 'cov' must be [{}, {}] to match 'mean' {}, got {}", op, m.size(),
                m.size(), mean.str(), cov.str());
  linalg::check_spd(s, op, "cov");
  // Symmetrize exactly so later eigen/Cholesky steps see a symmetric matrix bit for bit.
  s = 0.5 * (s + s.transpose()).eval();
  Eigen::LLT<Eigen::MatrixXd> llt(s);
  BRENIER_CHECK(llt.info() == Eigen::Success,
                "{}: argument 'cov' must be positive definite, but its Cholesky factorization failed",
                op);
  mean_ = linalg::from_eigen(m);
  cov_ = linalg::from_eigen(s);
  cholesky_ = linalg::from_eigen(Eigen::MatrixXd(llt.matrixL()));
}

double Gaussian::total_variance() const {
  double trace = 0;
  for (int64_t d = 0; d < dim(); ++d) trace += cov_.at({d, d});
  return trace;
}

Tensor Gaussian::sample(int64_t n, Generator& gen, DType dtype) const {
  BRENIER_CHECK(n >= 0, "Gaussian::sample: argument 'n' must be >= 0, got {}", n);
  BRENIER_CHECK(is_floating(dtype), "Gaussian::sample: argument 'dtype' must be f32 or f64, got {}",
                dtype_name(dtype));
  NoGradGuard no_grad;
  Var z(gen.normal({n, dim()}, 0.0, 1.0, DType::F64));
  Var x = matmul(z, transpose(Var(cholesky_))) + Var(mean_);  // rows: m + L z
  return x.data().to(dtype);
}

Gaussian random_gaussian(int64_t dim, Generator& gen, const RandomGaussianOptions& options) {
  const char* op = "random_gaussian";
  BRENIER_CHECK(dim >= 1, "{}: argument 'dim' must be >= 1, got {}", op, dim);
  BRENIER_CHECK(options.min_eigenvalue > 0 && options.max_eigenvalue >= options.min_eigenvalue &&
                    std::isfinite(options.max_eigenvalue),
                "{}: options 'min_eigenvalue' and 'max_eigenvalue' must satisfy 0 < min <= max < inf, "
                "got [{}, {}]",
                op, options.min_eigenvalue, options.max_eigenvalue);
  BRENIER_CHECK(options.mean_std >= 0 && std::isfinite(options.mean_std),
                "{}: option 'mean_std' must be finite and >= 0, got {}", op, options.mean_std);

  // Haar orthogonal Q: QR of a Gaussian matrix, columns flipped so that R has a positive diagonal.
  Eigen::MatrixXd g = linalg::to_eigen_matrix(gen.normal({dim, dim}, 0.0, 1.0, DType::F64), op, "g");
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(g);
  Eigen::MatrixXd q = qr.householderQ();
  Eigen::MatrixXd r = qr.matrixQR().triangularView<Eigen::Upper>();
  for (Eigen::Index j = 0; j < dim; ++j)
    if (r(j, j) < 0) q.col(j) *= -1.0;

  Eigen::VectorXd eigenvalues = Eigen::VectorXd::Constant(dim, options.min_eigenvalue);
  if (options.max_eigenvalue > options.min_eigenvalue)
    eigenvalues = linalg::to_eigen_vector(
        gen.uniform({dim}, options.min_eigenvalue, options.max_eigenvalue, DType::F64), op,
        "eigenvalues");
  Eigen::MatrixXd cov = q * eigenvalues.asDiagonal() * q.transpose();
  cov = 0.5 * (cov + cov.transpose()).eval();

  Tensor mean = options.mean_std > 0 ? gen.normal({dim}, 0.0, options.mean_std, DType::F64)
                                     : Tensor::zeros({dim}, DType::F64);
  return Gaussian(mean, linalg::from_eigen(cov));
}

}  // namespace brenier::ot
