// CUDA backend entry points, called by dispatch.cpp after it has checked the arguments (the same
// contract as cpu.h: dims wrapped, reduce dims sorted and unique, slice bounds resolved, index
// values in range). Each function allocates its result on the input's device, describes the
// tensors to a launcher from kernels/launch.cuh (or cuBLAS for matmul) and returns without
// waiting: the work is queued on the device's stream.
#pragma once
#include "engine/backend/primitives.h"

namespace brenier::cuda {

Tensor cast(const Tensor& x, DType dtype);

// elementwise.cpp
Tensor unary(prim::Unary op, const Tensor& x, double p);
Tensor binary(prim::Binary op, const Tensor& a, const Tensor& b);
Tensor binary_scalar(prim::Binary op, const Tensor& a, double s);
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor clamp(const Tensor& x, double lo, double hi);
Tensor broadcast_to(const Tensor& x, const Shape& shape);

// reduce.cpp
Tensor reduce(prim::Reduce op, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim);
Tensor argreduce(bool is_max, const Tensor& x, int64_t dim, bool keepdim);
std::vector<Tensor> topk(const Tensor& x, int64_t k, int64_t dim, bool largest);
Tensor bincount(const Tensor& index, int64_t minlength);

// matmul.cpp (cuBLAS)
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b);

// softmax.cpp
Tensor softmax(const Tensor& x, int64_t dim, bool log);
Tensor softmax_backward(const Tensor& y, const Tensor& g, int64_t dim);
Tensor layer_norm(const Tensor& x, double eps);

// attention.cpp (kernels/attention.cu): heads of widths d, e <= kernels::kMaxAttentionWidth, which
// attention_fits says (the attention op composes wider heads)
bool attention_fits(int64_t d, int64_t e);
std::vector<Tensor> attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_bias,
                              double scale);
std::vector<Tensor> attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_bias,
                                       const Tensor& out, const Tensor& lse, const Tensor& dout, double scale);

// batch_norm.cpp: x [rows, channels] only (dispatch composes the other shapes)
std::vector<Tensor> batch_norm_train(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps);
std::vector<Tensor> batch_norm_backward(const Tensor& g, const Tensor& x, const Tensor& mean, const Tensor& var,
                                        const Tensor& weight, double eps);

// shape.cpp
Tensor permute(const Tensor& x, const std::vector<int64_t>& perm);
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t count, int64_t step);
Tensor slice_scatter(const Tensor& src, const Shape& shape, int64_t dim, int64_t start, int64_t step);
Tensor concat(const std::vector<Tensor>& xs, int64_t dim);

// indexing.cpp
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
Tensor one_hot(const Tensor& index, int64_t num_classes, DType dtype);
Tensor nonzero_flat(const Tensor& mask);

}  // namespace brenier::cuda
