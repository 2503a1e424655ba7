// The host-callable launchers of every CUDA kernel in kernels/, in one header. They take raw device
// pointers, sizes and a stream, never a Tensor, so this header compiles under both nvcc and the host
// compiler (engine/backend/cuda/ includes it) and kernels/ never sees fmt or the tape.
// Arguments arrive checked and normalized by engine/backend/dispatch.cpp and the tensor-level code
// in engine/backend/cuda/; a launcher only reports a failed launch (through CUDA_CHECK).
// Strided<N> describes N operands walked over one row-major shape (rank <= kMaxDims after the
// caller has merged dims): operand k's element offset at position (i_0..i_r) is sum_d i_d*stride[k][d].
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>

#include "engine/backend/op_kinds.h"
#include "engine/dtype.h"

namespace brenier::kernels {

constexpr int kMaxDims = 8;

template <int N>
struct Strided {
  int rank = 0;
  int64_t shape[kMaxDims] = {};
  int64_t stride[N][kMaxDims] = {};
};

// --- elementwise.cu -------------------------------------------------------------------------
void unary(prim::Unary op, DType dtype, const void* x, void* y, int64_t n, double p, cudaStream_t s);
// out (contiguous, n elements) = a op b, with a and b read through `ab` (operand 0 = a, 1 = b);
// `contiguous` says both are laid out like out (no broadcast), which takes a flat kernel.
void binary(prim::Binary op, DType dtype, const void* a, const void* b, void* out, int64_t n,
            const Strided<2>& ab, bool contiguous, cudaStream_t s);
void binary_scalar(prim::Binary op, DType dtype, const void* a, double scalar, void* out, int64_t n,
                   cudaStream_t s);
// out = cond != 0 ? a : b, operands 0, 1, 2 of `cab`.
void where(DType cond_dtype, DType dtype, const void* cond, const void* a, const void* b, void* out,
           int64_t n, const Strided<3>& cab, cudaStream_t s);
// Floating bounds in lo/hi; for i64 the caller passes the rounded, saturated bounds in ilo/ihi.
void clamp(DType dtype, const void* x, void* out, int64_t n, double lo, double hi, int64_t ilo,
           int64_t ihi, cudaStream_t s);
void cast(DType from, DType to, const void* x, void* out, int64_t n, cudaStream_t s);
// dst[i] (contiguous, n elements of elem_size bytes) = src[offset of i in `src_layout`].
void strided_copy(size_t elem_size, const void* src, void* dst, int64_t n, const Strided<1>& src_layout,
                  cudaStream_t s);
// dst[offset of i in `dst_layout`] = src[i] (src contiguous, n elements).
void strided_scatter(size_t elem_size, const void* src, void* dst, int64_t n,
                     const Strided<1>& dst_layout, cudaStream_t s);
void fill(DType dtype, void* out, int64_t n, double value, cudaStream_t s);

// --- reduce.cu ------------------------------------------------------------------------------
// out[o] = fold over r < n_red of x[base(o) + off(r)], base from `kept` (over the output positions,
// n_out of them), off from `reduced` (over the n_red reduced positions). Floating sums accumulate in
// double, like the CPU loops.
void reduce(prim::Reduce op, DType dtype, const void* x, void* out, int64_t n_out, int64_t n_red,
            const Strided<1>& kept, const Strided<1>& reduced, cudaStream_t s);
// Lines: `outer` blocks of `size` entries `inner` apart. out is i64 [outer * inner].
void argreduce(bool is_max, DType dtype, const void* x, int64_t* out, int64_t outer, int64_t size,
               int64_t inner, cudaStream_t s);
void topk(DType dtype, const void* x, void* values, int64_t* indices, int64_t outer, int64_t size,
          int64_t inner, int64_t k, bool largest, cudaStream_t s);
void bincount(const int64_t* index, int64_t n, int64_t* counts, cudaStream_t s);  // counts zeroed

// --- softmax.cu -----------------------------------------------------------------------------
void softmax(DType dtype, const void* x, void* y, int64_t outer, int64_t size, int64_t inner, bool log,
             cudaStream_t s);
// out = y (g − Σ_line g y) along lines laid out like softmax's.
void softmax_backward(DType dtype, const void* y, const void* g, void* out, int64_t outer, int64_t size,
                      int64_t inner, cudaStream_t s);
void layer_norm(DType dtype, const void* x, void* y, int64_t rows, int64_t cols, double eps,
                cudaStream_t s);

// --- attention.cu ---------------------------------------------------------------------------
// Fused attention (prim::attention's contract): q [G, m, d], k [G, n, d], v [G, n, e], key_bias [G, n]
// or null, all contiguous; out [G, m, e], lse [G, m]. d, e <= kMaxAttentionWidth.
constexpr int64_t kMaxAttentionWidth = 128;
void attention_forward(DType dtype, const void* q, const void* k, const void* v, const void* key_bias, void* out,
                       void* lse, int64_t groups, int64_t m, int64_t n, int64_t d, int64_t e, double scale,
                       cudaStream_t s);
// Its backward from out, lse and dout [G, m, e]: dq, dk, dv (and dkey_bias when key_bias is given), every
// entry written; `delta` is [G, m] scratch.
void attention_backward(DType dtype, const void* q, const void* k, const void* v, const void* key_bias,
                        const void* out, const void* lse, const void* dout, void* delta, void* dq, void* dk, void* dv,
                        void* dkey_bias, int64_t groups, int64_t m, int64_t n, int64_t d, int64_t e, double scale,
                        cudaStream_t s);

// --- batch_norm.cu --------------------------------------------------------------------------
// Training-mode batch norm of x [rows, channels] (prim::batch_norm_train / batch_norm_backward's
// contract); weight and bias may be null (1 and 0), dweight null when weight is. `scratch` holds
// batch_norm_scratch_doubles(rows, channels) doubles on the device.
int64_t batch_norm_slices(int64_t rows, int64_t channels);
int64_t batch_norm_scratch_doubles(int64_t rows, int64_t channels);
void batch_norm_train(DType dtype, const void* x, const void* weight, const void* bias, void* y, void* mean,
                      void* var, int64_t rows, int64_t channels, double eps, double* scratch, cudaStream_t s);
void batch_norm_backward(DType dtype, const void* g, const void* x, const void* mean, const void* var,
                         const void* weight, void* dx, void* dweight, void* dbias, int64_t rows, int64_t channels,
                         double eps, double* scratch, cudaStream_t s);

// --- indexing.cu ----------------------------------------------------------------------------
// out[o, i, c] = x[o, index[i], c] (x: [outer, size, inner], out: [outer, len, inner]).
void index_select(size_t elem_size, const void* x, const int64_t* index, void* out, int64_t outer,
                  int64_t size, int64_t len, int64_t inner, cudaStream_t s);
// out[o, index[i], c] += src[o, i, c] (atomic: repeated indices accumulate).
void index_add(DType dtype, void* out, const int64_t* index, const void* src, int64_t outer,
               int64_t size, int64_t len, int64_t inner, cudaStream_t s);
// For each position p of index's shape (n of them): x offset = xl(p) + index[p] * dim_stride.
void gather(DType dtype, const void* x, const int64_t* index, void* out, int64_t n,
            const Strided<1>& xl, int64_t dim_stride, cudaStream_t s);
// out[ol(p) + index[p] * dim_stride] += src[sl(p)] (operand 0 = out, 1 = src), atomic.
void scatter_add(DType dtype, void* out, const int64_t* index, const void* src, int64_t n,
                 const Strided<2>& os, int64_t dim_stride, cudaStream_t s);
void one_hot(DType dtype, const int64_t* index, void* out, int64_t n, int64_t num_classes,
             cudaStream_t s);  // out zeroed

// --- random.cu ------------------------------------------------------------------------------
// Element i of `out` from Philox stream element offset + i under `seed`, mapped to a value exactly
// as engine/random/generator.cpp does (uniform: the same bits and arithmetic, so bit-identical;
// normal: Box-Muller through the device's log/cos/sqrt, within a few ulp of the CPU).
// For uniform, values are clamped to [lo, below_hi] (below_hi = the T just below hi, from the host).
void philox_uniform(DType dtype, void* out, int64_t n, uint64_t seed, uint64_t offset, double lo,
                    double width, double below_hi, cudaStream_t s);
void philox_normal(DType dtype, void* out, int64_t n, uint64_t seed, uint64_t offset, double mean,
                   double stddev, cudaStream_t s);

// --- adam.cu --------------------------------------------------------------------------------
// One fused Adam/AdamW step over n elements, in place, with engine/optim/adam.cpp's arithmetic
// (each scalar cast to T where that code applies it as a scalar op):
//   decoupled: p *= 1 - lr*wd        coupled: g += wd*p
//   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2        (m = v = 0 before the first step)
//   p -= step_size * (m / (sqrt(v) * (1/bc2) + eps))    (bc2 = sqrt(1 - b2^t); no factor without correction)
struct AdamScalars {
  double beta1, beta2, eps, weight_decay, lr, step_size, bc2;
  bool decoupled, bias_correction;
};
void adam_step(DType dtype, void* param, const void* grad, void* m, void* v, int64_t n,
               const AdamScalars& a, cudaStream_t s);

}  // namespace brenier::kernels
