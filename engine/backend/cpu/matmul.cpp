// Matrix products on the host: 2-D, and 3-D batched with a shared (2-D or batch-1) side.
// f32 goes to oneDNN's matmul (transposes expressed as strides, no copies); the loop below is the
// f64 path and the reference the tests compare oneDNN against.
#include "engine/backend/cpu/cpu.h"
#include "engine/backend/cpu/loops.h"
#include "engine/backend/cpu/onednn.h"

namespace brenier::cpu {
namespace {

// Smallest m*n*k sent to oneDNN. Measured single-threaded: square 16^3 loop 1.2 us vs oneDNN
// 2.0 us, 24^3 even (2.3 / 2.4), 64^3 25.7 vs 6.7, 128^3 185 vs 38.
constexpr int64_t kOnednnMatmulMin = 16384;

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
      for (int64_t j = 0; j < n; ++j) crow[j] = 0;
      for (int64_t p = 0; p < k; ++p) {
        const T av = arow[p * la.col_stride];
        const T* brow = bmat + p * lb.row_stride;
        for (int64_t j = 0; j < n; ++j) crow[j] += av * brow[j * lb.col_stride];
      }
    }
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
  if (a.dtype() == DType::F32 && m * n * k >= kOnednnMatmulMin &&
      onednn::matmul(a, b, trans_a, trans_b, out))
    return out;
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
