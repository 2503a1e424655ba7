// A row-major GEMM on raw pointers for kernels that work on tiles of their own buffers (the fused
// attention): C = alpha · op(A) · op(B) + beta · C with op(X) = X or Xᵀ, leading dimensions as in BLAS
// but row-major. f32 runs oneDNN's sgemm (JIT-compiled, no primitive to build), f64 Eigen's GEMM.
// Inside an OpenMP parallel region both run on the calling thread only, so callers parallelize over
// tiles.
#pragma once
#include <cstdint>

namespace brenier::cpu {

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

}  // namespace brenier::cpu
