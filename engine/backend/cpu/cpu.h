// CPU backend entry points, called by dispatch.cpp after it has checked the arguments.
// f32 goes through oneDNN where oneDNN 2.6 has the op; f64, i64 and the rest use templated loops
// parallelized with OpenMP over both cores.
// Arguments arrive checked and normalized: dims wrapped into [0, rank), reduce dims sorted and
// unique (all dims when the caller passed none), slice bounds resolved to (start, count, step).
#pragma once
#include "engine/backend/primitives.h"

namespace brenier::cpu {

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

// matmul.cpp
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b);

// softmax.cpp
Tensor softmax(const Tensor& x, int64_t dim, bool log);
Tensor softmax_backward(const Tensor& y, const Tensor& g, int64_t dim);  // last dim only
Tensor layer_norm(const Tensor& x, double eps);

// attention.cpp (the fused kernels of prim::attention / prim::attention_backward)
std::vector<Tensor> attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_bias,
                              double scale);
std::vector<Tensor> attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_bias,
                                       const Tensor& out, const Tensor& lse, const Tensor& dout, double scale);

// batch_norm.cpp
std::vector<Tensor> batch_norm_train(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps);
std::vector<Tensor> batch_norm_backward(const Tensor& g, const Tensor& x, const Tensor& mean, const Tensor& var,
                                        const Tensor& weight, double eps);

// shape.cpp
Tensor permute(const Tensor& x, const std::vector<int64_t>& perm);
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t count, int64_t step);
Tensor slice_scatter(const Tensor& src, const Shape& shape, int64_t dim, int64_t start,
                     int64_t step);
Tensor concat(const std::vector<Tensor>& xs, int64_t dim);

// indexing.cpp
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
Tensor one_hot(const Tensor& index, int64_t num_classes, DType dtype);
Tensor nonzero_flat(const Tensor& mask);

}  // namespace brenier::cpu
