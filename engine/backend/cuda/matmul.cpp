// Matrix products on CUDA with cuBLAS: 2-D, and 3-D batched through one strided-batched GEMM
// (stride 0 for a side shared by every batch entry: 2-D or batch 1). Transposes are GEMM flags,
// never copies. cuBLAS is column-major: a row-major [m, n] C is a column-major [n, m] C^T, so we
// ask cuBLAS for C^T = op(B)^T op(A)^T, which reads our row-major buffers as they are.
// f32 uses TF32 tensor cores only when backend::set_allow_tf32(true) was called (off by default).
#include <algorithm>
#include <climits>

#include "engine/backend/cuda/context.h"
#include "engine/backend/cuda/cuda.h"
#include "engine/backend/cuda/cuda_check.h"
#include "engine/backend/device_memory.h"

namespace brenier::cuda {
namespace {

int to_int(int64_t v, const char* what) {
  BRENIER_CHECK(v <= INT_MAX, "matmul: {} = {} exceeds cuBLAS's 32-bit limit; split the product", what, v);
  return static_cast<int>(v);
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  const int64_t m = trans_a ? a.size(-1) : a.size(-2);
  const int64_t k = trans_a ? a.size(-2) : a.size(-1);
  const int64_t n = trans_b ? b.size(-2) : b.size(-1);
  const bool batched = a.dim() == 3 || b.dim() == 3;
  const int64_t batch = std::max(a.dim() == 3 ? a.size(0) : 1, b.dim() == 3 ? b.size(0) : 1);
  Tensor out = Tensor::empty(batched ? Shape{batch, m, n} : Shape{m, n}, a.dtype(), a.device());
  if (out.numel() == 0) return out;
  if (k == 0) {
    out.fill_(0.0);
    return out;
  }
  DeviceContext& ctx = context(a.device());
  const bool tf32 = a.dtype() == DType::F32 && backend::allow_tf32();
  if (tf32 != ctx.blas_tf32) {
    CUBLAS_CHECK(cublasSetMathMode(ctx.blas, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    ctx.blas_tf32 = tf32;
  }
  // Row-major A [m, k] (or stored [k, m] when trans_a) is column-major with leading dim = its row
  // length; likewise B. C^T (n x m, column-major) = op(B)^T (n x k) * op(A)^T (k x m).
  const cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int ldb = to_int(trans_b ? k : n, "ldb"), lda = to_int(trans_a ? m : k, "lda");
  const int ldc = to_int(n, "n");
  const bool a_shared = a.dim() == 2 || a.size(0) == 1, b_shared = b.dim() == 2 || b.size(0) == 1;
  const long long stride_a = a_shared ? 0 : m * k, stride_b = b_shared ? 0 : k * n, stride_c = m * n;
  const int im = to_int(m, "m"), in = to_int(n, "n"), ik = to_int(k, "k"), ib = to_int(batch, "batch");
  if (a.dtype() == DType::F32) {
    const float one = 1, zero = 0;
    CUBLAS_CHECK(cublasSgemmStridedBatched(ctx.blas, op_b, op_a, in, im, ik, &one,
                                           static_cast<const float*>(b.raw_data()), ldb, stride_b,
                                           static_cast<const float*>(a.raw_data()), lda, stride_a, &zero,
                                           static_cast<float*>(out.raw_data()), ldc, stride_c, ib));
  } else {
    const double one = 1, zero = 0;
    CUBLAS_CHECK(cublasDgemmStridedBatched(ctx.blas, op_b, op_a, in, im, ik, &one,
                                           static_cast<const double*>(b.raw_data()), ldb, stride_b,
                                           static_cast<const double*>(a.raw_data()), lda, stride_a, &zero,
                                           static_cast<double*>(out.raw_data()), ldc, stride_c, ib));
  }
  return out;
}

}  // namespace brenier::cuda
