// The backend op interface: small, autograd-free compute primitives on Tensors.
// dispatch.cpp routes each call to the CPU backend (oneDNN for f32 where it has the op, templated
// loops for f64/i64 and the rest) or, in a CUDA build, to the CUDA backend. Backends never see the
// tape; the differentiable ops in engine/ops/ are written on top of these.
// Argument checking (shapes, dtypes, devices) is done here once, so every backend can trust its input.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/backend/op_kinds.h"
#include "engine/tensor.h"

namespace brenier::prim {

// Element-wise maps (enum Unary in op_kinds.h). `p` is the op's scalar parameter where it has one.
const char* unary_name(Unary op);
Tensor unary(Unary op, const Tensor& x, double p = 0.0);

// Broadcasting binary maps (enum Binary in op_kinds.h). Comparisons return 0/1 in the inputs' type.
const char* binary_name(Binary op);
Tensor binary(Binary op, const Tensor& a, const Tensor& b);
// Binary with a scalar right-hand side (x op s), avoiding a broadcast tensor.
Tensor binary_scalar(Binary op, const Tensor& a, double s);

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);  // broadcast; cond != 0 picks a
Tensor clamp(const Tensor& x, double lo, double hi);                // lo/hi may be ±inf
Tensor cast(const Tensor& x, DType dtype);
Tensor broadcast_to(const Tensor& x, const Shape& shape);  // materialized copy

// Reductions over `dims` (empty = all). keepdim keeps reduced dims as size 1.
Tensor reduce(Reduce op, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim);
// Index (i64) of the max/min along one dim; the first one on ties.
Tensor argreduce(bool is_max, const Tensor& x, int64_t dim, bool keepdim);
// Largest (or smallest) k along `dim`, sorted; returns {values, indices(i64)}.
std::vector<Tensor> topk(const Tensor& x, int64_t k, int64_t dim, bool largest);
Tensor bincount(const Tensor& index, int64_t minlength);  // i64 counts of a 1-D i64 tensor

// C = op(A) @ op(B). 2-D, or 3-D batched with the batch dim broadcast when one side is 1 or 2-D.
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);

// Convolution columns (engine/ops/conv.cpp builds conv2d and its relatives from these and matmul).
// Same stride and zero padding along H and W; dilation 1. Ho = (H + 2p - kh) / s + 1, likewise Wo.
// im2col: x [N, C, H, W] -> [N, C*kh*kw, Ho*Wo], row (c, i, j), column (oy, ox) holding
//   x[n, c, oy*s - p + i, ox*s - p + j] (0 in the padding).
Tensor im2col(const Tensor& x, int64_t kh, int64_t kw, int64_t stride, int64_t padding);
// col2im, im2col's adjoint: columns [N, C*kh*kw, Ho*Wo] -> image [N, C, H, W] (`image_shape`), each
// column entry added to the pixel it was read from (overlapping windows sum; padding is dropped).
Tensor col2im(const Tensor& cols, const Shape& image_shape, int64_t kh, int64_t kw, int64_t stride,
              int64_t padding);

// Softmax / log-softmax along `dim`; layer norm over the last dim without affine (returns y).
Tensor softmax(const Tensor& x, int64_t dim, bool log);
// Softmax's first-order backward: dx = y * (g - sum(g * y, dim)) for y = softmax(x, dim) and the
// output gradient g (same shape and dtype). One pass over each line (the host: along the last dim;
// CUDA: any dim) instead of four full-size ops; the host's other dims compose it from primitives.
Tensor softmax_backward(const Tensor& y, const Tensor& g, int64_t dim);
Tensor layer_norm(const Tensor& x, double eps);
// Fused scaled-dot-product attention with heads folded into the batch, on the host and CUDA: q [G, m, d],
// k [G, n, d], v [G, n, e], key_bias [G, n] or undefined (0); returns {out [G, m, e], lse [G, m]} with
//   out[g, i] = Σ_j softmax_j(scale · q_gi·k_gj + key_bias_gj) v_gj
// and lse[g, i] the log of that softmax's normalizer (the backward recomputes the probabilities from
// it). Neither backend writes the [G, m, n] score matrix: the host processes query tiles whose scores
// stay in cache, CUDA gives a warp to each query row. CUDA takes head widths d, e up to 128 and only when
// backend::set_cuda_fused_attention(true) (has_fused_attention); the attention op composes matmul and softmax
// otherwise.
std::vector<Tensor> attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_bias,
                              double scale);
// Its first-order backward for the output gradient dout [G, m, e], from the forward's out and lse:
// {dq, dk, dv, dkey_bias (undefined when key_bias is)}.
std::vector<Tensor> attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_bias,
                                       const Tensor& out, const Tensor& lse, const Tensor& dout, double scale);
// Whether attention / attention_backward have a kernel for these q [G, m, d] and v [G, n, e] on their device.
bool has_fused_attention(const Tensor& q, const Tensor& v);
// The argument checks of both (shapes, dtypes, one device, finite scale), for callers that compose instead.
void check_attention_arguments(const char* op, const Tensor& q, const Tensor& k, const Tensor& v,
                               const Tensor& key_bias, double scale);

// Training-mode batch normalization of x [N, C, d...] over every dim but the channel dim 1: returns
// {y, mean, var} with mean and the biased var [C] of the batch and y = (x − mean) / sqrt(var + eps) ·
// weight + bias (weight, bias: [C], or undefined for 1 and 0). One pass for the statistics and one
// for y on the host; CUDA has kernels for x [N, C] (kernels/batch_norm.cu) and composes it from the
// primitives above for [N, C, d...].
std::vector<Tensor> batch_norm_train(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps);
// Its first-order backward for the output gradient g, from the forward's mean and var:
// {dx, dweight (undefined when weight is), dbias}.
std::vector<Tensor> batch_norm_backward(const Tensor& g, const Tensor& x, const Tensor& mean, const Tensor& var,
                                        const Tensor& weight, double eps);

// Shape and indexing.
Tensor permute(const Tensor& x, const std::vector<int64_t>& perm);
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t stop, int64_t step);
// Zeros of `shape` with `src` written into the slice [start:stop:step] of `dim` (slice's adjoint).
Tensor slice_scatter(const Tensor& src, const Shape& shape, int64_t dim, int64_t start,
                     int64_t stop, int64_t step);
Tensor concat(const std::vector<Tensor>& xs, int64_t dim);
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
// out = x; out.select(dim, index[i]) += src.select(dim, i)   (index_select's adjoint)
Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
// out = x; out[... index[i][j] ...] += src[i][j]  along dim   (gather's adjoint)
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
Tensor one_hot(const Tensor& index, int64_t num_classes, DType dtype);
Tensor nonzero_flat(const Tensor& mask);  // i64 flat indices where mask != 0

}  // namespace brenier::prim
