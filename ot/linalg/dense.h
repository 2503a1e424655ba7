// Small dense f64 linear algebra for the OT layer (Gaussians, Bures maps): conversions between
// f64 Tensors and Eigen matrices, SPD validation, and symmetric matrix square roots.
// Eigen (Debian libeigen3-dev) does the numerics; this header is included by ot/*.cpp files only,
// so users of ot/ headers never need Eigen on their include path.
//
// Square roots use the symmetric eigendecomposition M = V diag(λ) Vᵀ, M^{±1/2} = V diag(λ^{±1/2}) Vᵀ
// (Higham, "Functions of Matrices", 2008, §6.1): exact up to rounding for symmetric matrices and
// well conditioned at the sizes used here (D ≤ a few hundred).
#pragma once
#include <Eigen/Dense>

#include "engine/tensor.h"

namespace brenier::ot::linalg {

// A [D] or [D, D] floating tensor (any float dtype, CPU) as an Eigen vector / matrix of doubles.
Eigen::VectorXd to_eigen_vector(const Tensor& t, const char* op, const char* arg);
Eigen::MatrixXd to_eigen_matrix(const Tensor& t, const char* op, const char* arg);
// Back to f64 tensors [D] and [rows, cols].
Tensor from_eigen(const Eigen::VectorXd& v);
Tensor from_eigen(const Eigen::MatrixXd& m);

// Throws naming `op`/`arg` unless `m` is square, finite, symmetric (|m - mᵀ| ≤ 1e-8·max|m|) and
// positive definite (smallest eigenvalue > 1e-12·largest, so a Cholesky factor and M^{-1/2} exist).
void check_spd(const Eigen::MatrixXd& m, const char* op, const char* arg);

// M^{1/2} and M^{-1/2} of a symmetric positive (semi-)definite matrix. Eigenvalues that rounding
// pushed slightly below zero are clamped to zero for the square root; the inverse root requires
// positive definiteness (call check_spd first).
Eigen::MatrixXd spd_sqrt(const Eigen::MatrixXd& m);
Eigen::MatrixXd spd_inv_sqrt(const Eigen::MatrixXd& m);

}  // namespace brenier::ot::linalg
