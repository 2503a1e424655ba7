// Row-major GEMM on raw pointers (see gemm.h).
#include "engine/backend/cpu/gemm.h"

#include <Eigen/Core>
#include <oneapi/dnnl/dnnl.h>

#include "engine/error.h"

namespace brenier::cpu {

template <>
void gemm<float>(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                 int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  const dnnl_status_t status =
      dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  BRENIER_CHECK(status == dnnl_success, "cpu::gemm: oneDNN's sgemm failed (status {}) on m {} n {} k {}",
                static_cast<int>(status), m, n, k);
}

template <>
void gemm<double>(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
                  int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using ColMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
  using Stride = Eigen::OuterStride<>;
  Eigen::Map<RowMajor, 0, Stride> out(c, m, n, Stride(ldc));
  if (beta == 0) out.setZero();
  else if (beta != 1) out *= beta;
  if (k == 0) return;
  // A row-major [rows, cols] matrix stored transposed is a column-major one with the same leading dimension.
  auto product = [&](const auto& lhs) {
    if (trans_b) out.noalias() += alpha * (lhs * Eigen::Map<const ColMajor, 0, Stride>(b, k, n, Stride(ldb)));
    else out.noalias() += alpha * (lhs * Eigen::Map<const RowMajor, 0, Stride>(b, k, n, Stride(ldb)));
  };
  if (trans_a) product(Eigen::Map<const ColMajor, 0, Stride>(a, m, k, Stride(lda)));
  else product(Eigen::Map<const RowMajor, 0, Stride>(a, m, k, Stride(lda)));
}

}  // namespace brenier::cpu
