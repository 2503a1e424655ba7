// The public differentiable ops. tests/engine/op_cases.cpp must hold a gradcheck case for each
// (its coverage test fails otherwise): add a name here when you add an op.
#include "engine/ops/ops.h"

namespace brenier {

const std::vector<const char*>& differentiable_ops() {
  static const std::vector<const char*> names = {
      "add", "sub", "mul", "div", "neg", "add_scalar", "mul_scalar", "rdiv_scalar", "maximum", "minimum",
      "exp", "log", "sqrt", "pow", "pow_tensor", "square", "abs", "sin", "cos",
      "relu", "leaky_relu", "celu", "softplus", "sigmoid", "tanh", "silu", "gelu",
      "clamp", "where", "masked_select", "masked_fill", "cast",
      "matmul", "matmul_batched", "matmul_broadcast", "matmul_transposed", "matmul_transposed_batched", "dot",
      "outer",
      "reshape", "unsqueeze", "squeeze", "transpose", "permute", "broadcast_to", "sum_to",
      "slice", "concat", "stack", "split", "index_select", "gather", "scatter_add",
      "sum", "mean", "max", "min", "logsumexp", "softmax", "log_softmax", "layer_norm", "topk",
      "batch_norm", "batch_norm_eval", "attention", "attention_no_bias",
      "conv2d", "conv2d_bias", "conv_transpose2d", "conv_transpose2d_bias", "conv2d_weight"};
  return names;
}

}  // namespace brenier
