// Internal helpers shared by the op implementations.
#pragma once
#include "engine/autograd/var.h"
#include "engine/backend/primitives.h"
#include "engine/ops/ops.h"

namespace brenier::ops_detail {

using autograd::BackwardArgs;
using autograd::record;

inline void check_var(const Var& v, const char* op, const char* arg) {
  BRENIER_CHECK(v.defined(), "{}: argument '{}' is an undefined Var", op, arg);
}
inline void check_float_var(const Var& v, const char* op, const char* arg) {
  check_var(v, op, arg);
  BRENIER_CHECK(is_floating(v.dtype()), "{}: argument '{}' must be f32 or f64, got {}", op, arg,
                v.data().str());
}
// A constant (non-differentiable) Var, e.g. a mask inside a backward formula.
inline Var constant(Tensor t) { return Var(std::move(t), false); }
inline Var zeros_like(const Var& v) {
  return constant(Tensor::zeros(v.shape(), v.dtype(), v.device()));
}
inline Var scalar_like(double value, const Var& v) {
  return constant(Tensor::scalar(value, v.dtype(), v.device()));
}
// Shape of a reduction's result with keepdim=true (for broadcasting gradients back).
Shape keepdim_shape(const Shape& in, const Dims& dims);
// Wraps and sorts `dims`; empty means all.
Dims normalize_dims(const Dims& dims, int64_t rank, const char* op);

}  // namespace brenier::ops_detail
