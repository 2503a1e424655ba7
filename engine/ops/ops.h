// The differentiable ops. Each checks its arguments (throwing brenier::Error that names the op,
// the argument, what was expected and what was given), calls a backend primitive, and records a
// backward written in these same ops, so every op can be differentiated again.
// Non-differentiable results (indices, counts, masks) are returned as plain Tensors.
#pragma once
#include <optional>
#include <vector>

#include "engine/autograd/var.h"

namespace brenier {

using Dims = std::vector<int64_t>;

// --- arithmetic (NumPy broadcasting) -----------------------------------------------------------
Var add(const Var& a, const Var& b);
Var sub(const Var& a, const Var& b);
Var mul(const Var& a, const Var& b);
Var div(const Var& a, const Var& b);
Var neg(const Var& x);
Var add(const Var& a, double s);
Var mul(const Var& a, double s);
Var maximum(const Var& a, const Var& b);
Var minimum(const Var& a, const Var& b);
Var operator+(const Var& a, const Var& b);
Var operator-(const Var& a, const Var& b);
Var operator*(const Var& a, const Var& b);
Var operator/(const Var& a, const Var& b);
Var operator-(const Var& x);
Var operator+(const Var& a, double s);
Var operator+(double s, const Var& a);
Var operator-(const Var& a, double s);
Var operator-(double s, const Var& a);
Var operator*(const Var& a, double s);
Var operator*(double s, const Var& a);
Var operator/(const Var& a, double s);
Var operator/(double s, const Var& a);

// --- element-wise functions ---------------------------------------------------------------------
Var exp(const Var& x);
Var log(const Var& x);
Var sqrt(const Var& x);
Var pow(const Var& x, double exponent);
Var pow(const Var& x, const Var& exponent);  // x > 0 where exponent's gradient is needed
Var square(const Var& x);
Var abs(const Var& x);
Var sin(const Var& x);
Var cos(const Var& x);
Var relu(const Var& x);
Var leaky_relu(const Var& x, double slope = 0.01);
Var celu(const Var& x, double alpha = 1.0);
Var softplus(const Var& x);
Var sigmoid(const Var& x);
Var tanh(const Var& x);
Var silu(const Var& x);
Var gelu(const Var& x);  // exact (erf) form
Var clamp(const Var& x, double lo, double hi);
Var clamp_min(const Var& x, double lo);
Var where(const Tensor& cond, const Var& a, const Var& b);  // cond != 0 picks a; broadcast
Var masked_select(const Var& x, const Tensor& mask);         // 1-D, elements where mask != 0
Var masked_fill(const Var& x, const Tensor& mask, double value);
Var cast(const Var& x, DType dtype);  // between f32 and f64; gradient cast back

// --- linear algebra -----------------------------------------------------------------------------
// 2-D @ 2-D, or batched: 3-D @ 3-D / 3-D @ 2-D / 2-D @ 3-D with the batch broadcast.
Var matmul(const Var& a, const Var& b);
// op(a) @ op(b), op = transpose of the last two dims where its flag is set: the same product as
// matmul(transpose(a), ...) without materializing the transposed copy (nor, in backward, the copy
// of its gradient). The backend reads the operand through swapped strides.
Var matmul(const Var& a, const Var& b, bool transpose_a, bool transpose_b);
Var dot(const Var& a, const Var& b);    // 1-D · 1-D -> scalar
Var outer(const Var& a, const Var& b);  // 1-D ⊗ 1-D -> 2-D

// --- shape --------------------------------------------------------------------------------------
Var reshape(const Var& x, const Shape& shape);  // one dim may be -1
Var flatten(const Var& x);
Var unsqueeze(const Var& x, int64_t dim);
Var squeeze(const Var& x, int64_t dim);
Var transpose(const Var& x, int64_t d0 = -2, int64_t d1 = -1);
Var permute(const Var& x, const Dims& perm);
Var broadcast_to(const Var& x, const Shape& shape);
Var sum_to(const Var& x, const Shape& shape);  // sums broadcast dims away (broadcast_to's adjoint)
Var slice(const Var& x, int64_t dim, int64_t start, int64_t stop, int64_t step = 1);
Var concat(const std::vector<Var>& xs, int64_t dim = 0);
Var stack(const std::vector<Var>& xs, int64_t dim = 0);
std::vector<Var> split(const Var& x, const std::vector<int64_t>& sizes, int64_t dim = 0);
Var index_select(const Var& x, int64_t dim, const Tensor& index);
Var gather(const Var& x, int64_t dim, const Tensor& index);
Var scatter_add(const Var& x, int64_t dim, const Tensor& index, const Var& src);

// --- reductions ---------------------------------------------------------------------------------
// `dims` empty means every dim.
Var sum(const Var& x, const Dims& dims = {}, bool keepdim = false);
Var mean(const Var& x, const Dims& dims = {}, bool keepdim = false);
Var max(const Var& x, const Dims& dims = {}, bool keepdim = false);  // ties share the gradient
Var min(const Var& x, const Dims& dims = {}, bool keepdim = false);
Var logsumexp(const Var& x, int64_t dim, bool keepdim = false);
Var softmax(const Var& x, int64_t dim = -1);
Var log_softmax(const Var& x, int64_t dim = -1);
// Normalizes over the last dim; weight and bias (shape [last]) are optional.
Var layer_norm(const Var& x, const Var& weight = {}, const Var& bias = {}, double eps = 1e-5);
// Batch normalization over the channel dim 1 of x [N, C] or [N, C, d...] (PyTorch's
// F.batch_norm): each channel is normalized over every other dim, then scaled by weight [C] and
// shifted by bias [C] (both optional). training: batch statistics (biased variance), and when
// running_mean / running_var [C] are given they are updated in place (their storage) as
// r <- (1 - momentum) r + momentum s, with the unbiased batch variance for running_var; the update
// is not recorded on the tape. Not training: the running statistics normalize (both required).
// Composed of differentiable ops, so it has derivatives of every order on every backend.
Var batch_norm(const Var& x, const Tensor& running_mean, const Tensor& running_var, const Var& weight = {},
               const Var& bias = {}, bool training = true, double momentum = 0.1, double eps = 1e-5);

// --- attention (engine/ops/attention.cpp) --------------------------------------------------------------
// Scaled-dot-product attention with an additive per-key bias, heads folded into the batch:
//   q [G, m, d], k [G, n, d], v [G, n, e], key_bias [G, n] (optional: undefined means 0) → [G, m, e],
//   out[g, i] = Σ_j softmax_j(scale · q_gi·k_gj + key_bias_gj) v_gj.
// Equal to softmax(scale · matmul(q, k, false, true) + unsqueeze(key_bias, 1), -1) · v, but fused: the
// [G, m, n] probabilities are never stored (the backward recomputes them; prim::attention); on the host
// 1.2–1.9× faster forward + backward than the composition (NOTES.md). CUDA composes unless
// backend::set_cuda_fused_attention(true) (its kernel awaits a GPU run), then fuses heads up to 128 wide.
// A key bias of −1e30 or −∞ removes a key exactly. Derivatives of every order (second and higher through
// the composition).
Var attention(const Var& q, const Var& k, const Var& v, const Var& key_bias, double scale);

// --- convolution (engine/ops/conv.cpp) ------------------------------------------------------------
// PyTorch layouts and output sizes; groups = 1 and dilation = 1 only; the same stride and padding
// for height and width (kernels may be non-square). Backends: im2col/col2im + the matmul primitive.
// conv2d: x [N, C, H, W], weight [O, C, kh, kw], bias [O] or undefined ->
//   [N, O, (H + 2p - kh) / s + 1, (W + 2p - kw) / s + 1]   (cross-correlation, zero padding).
Var conv2d(const Var& x, const Var& weight, const Var& bias = {}, int64_t stride = 1, int64_t padding = 0);
// conv_transpose2d (conv2d's adjoint in x): x [N, C, H, W], weight [C, O, kh, kw], bias [O] ->
//   [N, O, (H - 1) s - 2p + kh + output_padding, (W - 1) s - 2p + kw + output_padding];
//   0 <= output_padding < stride.
Var conv_transpose2d(const Var& x, const Var& weight, const Var& bias = {}, int64_t stride = 1,
                     int64_t padding = 0, int64_t output_padding = 0);
// The gradient of conv2d with respect to its weight (torch.nn.grad.conv2d_weight): for x
// [N, C, H, W] and grad_out [N, O, Ho, Wo] (conv2d's output shape for a [kh, kw] kernel), the
// [O, C, kh, kw] tensor d<grad_out, conv2d(x, w)>/dw. Bilinear and differentiable in both inputs.
Var conv2d_weight(const Var& x, const Var& grad_out, int64_t kh, int64_t kw, int64_t stride = 1,
                  int64_t padding = 0);

// --- not differentiable (indices, counts, masks) ------------------------------------------------
Tensor argmax(const Var& x, int64_t dim, bool keepdim = false);
Tensor argmin(const Var& x, int64_t dim, bool keepdim = false);
struct TopK {
  Var values;      // differentiable (a gather of x)
  Tensor indices;  // i64
};
TopK topk(const Var& x, int64_t k, int64_t dim = -1, bool largest = true);
Tensor bincount(const Tensor& index, int64_t minlength = 0);
Tensor one_hot(const Tensor& index, int64_t num_classes, DType dtype = DType::F32);
Tensor eq(const Var& a, const Var& b);
Tensor ne(const Var& a, const Var& b);
Tensor lt(const Var& a, const Var& b);
Tensor le(const Var& a, const Var& b);
Tensor gt(const Var& a, const Var& b);
Tensor ge(const Var& a, const Var& b);

// Every differentiable op name recorded on the tape (the op table's coverage test checks each
// has a gradcheck case).
const std::vector<const char*>& differentiable_ops();

}  // namespace brenier
