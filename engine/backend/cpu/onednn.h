// The oneDNN 2.6 fast path for f32 on the CPU: matmul, eltwise, softmax,
// log-softmax and layer normalization. Each function returns false when oneDNN cannot take the
// case (an op or layout it lacks, too many dims, a primitive it refuses to build); the caller then
// runs its own loop, so oneDNN is only ever an accelerator, never the reference.
// Primitives are built once per (op, shapes, strides, params) and cached per thread.
#pragma once
#include "engine/backend/primitives.h"

namespace brenier::cpu::onednn {

// y = op(x) for f32 contiguous x, y of equal shape; false when oneDNN has no such eltwise.
bool unary(prim::Unary op, double p, const Tensor& x, Tensor& y);
// y = gelu'(x) for op GeluGrad through oneDNN's gelu_erf eltwise backward with a diff_dst of ones:
// one vectorized pass instead of the scalar erf + exp loop (~4 % of a HOTET step); false for
// other ops.
bool unary_derivative(prim::Unary op, const Tensor& x, Tensor& y);
// out[b] = op(a[b]) @ op(b[b]); a and b are 2-D or 3-D (see prim::matmul), out is [m,n] or [B,m,n].
bool matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b, Tensor& out);
// Softmax or log-softmax along the wrapped `dim`.
bool softmax(const Tensor& x, int64_t dim, bool log, Tensor& y);
// Layer normalization over the last dim, no affine, inference.
bool layer_norm(const Tensor& x, double eps, Tensor& y);

}  // namespace brenier::cpu::onednn
