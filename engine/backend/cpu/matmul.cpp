// Matrix products on the host: 2-D, and 3-D batched with a shared (2-D or batch-1) side.
// f32 goes to oneDNN's matmul (transposes expressed as strides, no copies), f64 to Eigen's blocked
// GEMM (oneDNN has no f64 matmul), products with one or two output columns (a potential's last
// layer and its gradient) to a dot-product loop, and the small rest to the plain loop below, which is
// also the reference the tests compare the others against. Matrix-vector shapes get their own loops
// (dots, transposed GEMV): through the general paths they cost 10-20 us of call and packing overhead.
#include <Eigen/Core>

#include "engine/backend/cpu/cpu.h"
#include "engine/backend/cpu/loops.h"
#include "engine/backend/cpu/onednn.h"

namespace brenier::cpu {
namespace {

// Smallest m*n*k sent to oneDNN. Measured single-threaded: square 16^3 loop 1.2 us vs oneDNN
// 2.0 us, 24^3 even (2.3 / 2.4), 64^3 25.7 vs 6.7, 128^3 185 vs 38.
constexpr int64_t kOnednnMatmulMin = 16384;
// Smallest m*n*k sent to Eigen (f64); below it the plain loop is as fast.
constexpr int64_t kEigenMatmulMin = 16384;

// How an operand's logical [rows, cols] matrix of batch entry b sits in memory.
struct MatrixLayout {
  int64_t batch_stride, row_stride, col_stride;
};
MatrixLayout layout_of(const Tensor& t, bool trans, int64_t rows, int64_t cols) {
  const bool shared = t.dim() == 2 || t.size(0) == 1;  // the same matrix for every batch entry
  return {shared ? 0 : rows * cols, trans ? 1 : cols, trans ? rows : 1};
}

template <class T>
void matmul_loop(const T* a, MatrixLayout la, const T* b, MatrixLayout lb, T* c, int64_t batch,
                 int64_t m, int64_t k, int64_t n) {
#pragma omp parallel for if (batch * m * n * k > kParallelThreshold)
  for (int64_t q = 0; q < batch * m; ++q) {
    const int64_t bi = q / m, i = q % m;
    const T* arow = a + bi * la.batch_stride + i * la.row_stride;
    const T* bmat = b + bi * lb.batch_stride;
    T* crow = c + q * n;
    if (lb.col_stride != 1 && lb.row_stride == 1) {
      // b is stored transposed: each output is a dot product of two contiguous-ish rows.
      for (int64_t j = 0; j < n; ++j) {
        const T* bcol = bmat + j * lb.col_stride;
        T acc = 0;
        for (int64_t p = 0; p < k; ++p) acc += arow[p * la.col_stride] * bcol[p];
        crow[j] = acc;
      }
    } else {
      // Accumulate rows of b scaled by a[i, p]: the inner loop runs along b's contiguous rows.
      // (Contiguous rows of b get a loop without the stride, so it vectorizes: NCTM's per-sample
      // [1, 64] x [64, 64] products ran at 1.1 GMAC/s with it.)
      for (int64_t j = 0; j < n; ++j) crow[j] = 0;
      for (int64_t p = 0; p < k; ++p) {
        const T av = arow[p * la.col_stride];
        const T* brow = bmat + p * lb.row_stride;
        if (lb.col_stride == 1) {
          for (int64_t j = 0; j < n; ++j) crow[j] += av * brow[j];
        } else {
          for (int64_t j = 0; j < n; ++j) crow[j] += av * brow[j * lb.col_stride];
        }
      }
    }
  }
}

// Products with n <= 2 output columns (or m <= 2 rows), contiguous rows of a and contiguous columns of
// b: one dot product per output with a vectorized (reassociated) sum. oneDNN ran these matrix-vector shapes at
// 3 GMAC/s ([1024, 64] x [64, 1]: 21 us, now 10.5) and the row-accumulating loop at 0.3 GMAC/s (218 us
// in f64, now 19).
constexpr int64_t kDotMaxColumns = 2;

// sum_p x[p] * y[p] with eight partial sums (a fixed reassociation the compiler vectorizes).
template <class T>
T dot(const T* x, const T* y, int64_t k) {
  T part[8] = {};
  int64_t p = 0;
  for (; p + 8 <= k; p += 8)
    for (int u = 0; u < 8; ++u) part[u] += x[p + u] * y[p + u];
  T acc = ((part[0] + part[4]) + (part[1] + part[5])) + ((part[2] + part[6]) + (part[3] + part[7]));
  for (; p < k; ++p) acc += x[p] * y[p];
  return acc;
}

template <class T>
void matmul_dots(const T* a, MatrixLayout la, const T* b, MatrixLayout lb, T* c, int64_t batch, int64_t m,
                 int64_t k, int64_t n) {
#pragma omp parallel for if (batch * m * n * k > kParallelThreshold)
  for (int64_t q = 0; q < batch * m; ++q) {
    const int64_t bi = q / m, i = q % m;
    const T* arow = a + bi * la.batch_stride + i * la.row_stride;  // la.col_stride == 1
    const T* bmat = b + bi * lb.batch_stride;                       // lb.row_stride == 1 (the caller's condition)
    for (int64_t j = 0; j < n; ++j) c[q * n + j] = dot(arow, bmat + j * lb.col_stride, k);
  }
}

// One output column of a transposed a (a stored [k, m], the weight gradient zᵀg of a layer with one
// output): c = Σ_p b[p] · a_stored[p, :], accumulated along a's contiguous rows, in order over p.
template <class T>
void matmul_transposed_gemv(const T* a, MatrixLayout la, const T* b, MatrixLayout lb, T* c, int64_t batch, int64_t m,
                            int64_t k) {
#pragma omp parallel for if (batch * m * k > kParallelThreshold)
  for (int64_t bi = 0; bi < batch; ++bi) {
    const T* amat = a + bi * la.batch_stride;  // la.row_stride == 1, la.col_stride == m
    const T* bvec = b + bi * lb.batch_stride;
    T* cvec = c + bi * m;
    for (int64_t i = 0; i < m; ++i) cvec[i] = 0;
    for (int64_t p = 0; p < k; ++p) {
      const T bv = bvec[p * lb.row_stride];
      const T* arow = amat + p * la.col_stride;
      for (int64_t i = 0; i < m; ++i) cvec[i] += bv * arow[i];
    }
  }
}

// f64 through Eigen's GEMM (cache-blocked, vectorized; ~3x the loop's 6.6 GFLOP/s on one core at
// [1024, 64] x [64, 64]). A transposed operand is a column-major view of the same memory, so no
// copies; each batch entry is one product, which Eigen may split over OpenMP threads itself.
void matmul_eigen(const double* a, MatrixLayout la, bool trans_a, const double* b, MatrixLayout lb, bool trans_b,
                  double* c, int64_t batch, int64_t m, int64_t k, int64_t n) {
  using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using ColMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
  using Stride = Eigen::OuterStride<>;
  for (int64_t bi = 0; bi < batch; ++bi) {
    Eigen::Map<RowMajor> out(c + bi * m * n, m, n);
    const double* pa = a + bi * la.batch_stride;
    const double* pb = b + bi * lb.batch_stride;
    // row_stride of a non-transposed operand, col_stride of a transposed one, is its leading dimension.
    auto product = [&](const auto& lhs) {
      if (trans_b) out.noalias() = lhs * Eigen::Map<const ColMajor, 0, Stride>(pb, k, n, Stride(lb.col_stride));
      else out.noalias() = lhs * Eigen::Map<const RowMajor, 0, Stride>(pb, k, n, Stride(lb.row_stride));
    };
    if (trans_a) product(Eigen::Map<const ColMajor, 0, Stride>(pa, m, k, Stride(la.col_stride)));
    else product(Eigen::Map<const RowMajor, 0, Stride>(pa, m, k, Stride(la.row_stride)));
  }
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  const int64_t m = trans_a ? a.size(-1) : a.size(-2);
  const int64_t k = trans_a ? a.size(-2) : a.size(-1);
  const int64_t n = trans_b ? b.size(-2) : b.size(-1);
  const bool batched = a.dim() == 3 || b.dim() == 3;
  const int64_t batch = std::max(a.dim() == 3 ? a.size(0) : 1, b.dim() == 3 ? b.size(0) : 1);
  Tensor out = Tensor::empty(batched ? Shape{batch, m, n} : Shape{m, n}, a.dtype());
  // Matrix-vector shapes (n <= 2, or m <= 2 such as a batch of per-sample layers applied to one point
  // each) with contiguous rows of a and columns of b: strided columns ran slower than oneDNN.
  if ((n <= kDotMaxColumns || m <= kDotMaxColumns) && !trans_a && k >= 8 && (n == 1 || trans_b)) {
    dispatch_floating(a.dtype(), [&](auto tag) {
      using T = decltype(tag);
      matmul_dots(a.data<T>(), layout_of(a, false, m, k), b.data<T>(), layout_of(b, trans_b, k, n), out.data<T>(), batch,
                  m, k, n);
    });
    return out;
  }
  if (n == 1 && trans_a && m >= 8) {
    dispatch_floating(a.dtype(), [&](auto tag) {
      using T = decltype(tag);
      matmul_transposed_gemv(a.data<T>(), layout_of(a, true, m, k), b.data<T>(), layout_of(b, trans_b, k, n),
                             out.data<T>(), batch, m, k);
    });
    return out;
  }
  if (a.dtype() == DType::F32 && m * n * k >= kOnednnMatmulMin &&
      onednn::matmul(a, b, trans_a, trans_b, out))
    return out;
  if (a.dtype() == DType::F64 && m * n * k >= kEigenMatmulMin) {
    matmul_eigen(a.data<double>(), layout_of(a, trans_a, m, k), trans_a, b.data<double>(), layout_of(b, trans_b, k, n),
                 trans_b, out.data<double>(), batch, m, k, n);
    return out;
  }
  // A transposed b makes every output a scalar dot product, which does not vectorize (no
  // reassociation); with more than a few rows, one contiguous copy of b^T (k*n) is cheaper than
  // that, and the row-accumulating loop sums in the same order, so the results are identical.
  // (nn::linear passes its weight transposed this way.)
  const Tensor b_rows = trans_b && batch * m >= 4 ? permute(b, b.dim() == 3 ? std::vector<int64_t>{0, 2, 1}
                                                                             : std::vector<int64_t>{1, 0})
                                                  : b;
  const bool loop_trans_b = trans_b && batch * m < 4;
  dispatch_floating(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    matmul_loop(a.data<T>(), layout_of(a, trans_a, m, k), b_rows.data<T>(),
                layout_of(b_rows, loop_trans_b, k, n), out.data<T>(), batch, m, k, n);
  });
  return out;
}

}  // namespace brenier::cpu
