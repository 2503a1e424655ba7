// The op table (see op_cases.h). Shapes exercise broadcasting and batching where the op has them.
#include "op_cases.h"

#include <cmath>
#include <random>

#include "engine/ops/ops.h"

namespace brenier::testing {

namespace {
using V = std::vector<Var>;
Tensor idx(std::vector<int64_t> v, Shape s) { return Tensor::from_vector(v, s); }
Tensor mask_2x3() { return Tensor::from_vector<double>({1, 0, 1, 0, 0, 1}, {2, 3}); }
}  // namespace

const std::vector<OpCase>& op_cases() {
  static const std::vector<OpCase> cases = {
      {"add", {{2, 3}, {3}}, [](const V& x) { return x[0] + x[1]; }},
      {"sub", {{2, 1}, {2, 3}}, [](const V& x) { return x[0] - x[1]; }},
      {"mul", {{2, 3}, {2, 1}}, [](const V& x) { return x[0] * x[1]; }},
      {"div", {{2, 3}, {3}}, [](const V& x) { return x[0] / x[1]; }, Domain::Positive},
      {"neg", {{2, 3}}, [](const V& x) { return -x[0]; }},
      {"add_scalar", {{2, 3}}, [](const V& x) { return x[0] + 1.5; }},
      {"mul_scalar", {{2, 3}}, [](const V& x) { return x[0] * -2.5; }},
      {"rdiv_scalar", {{2, 3}}, [](const V& x) { return 2.0 / x[0]; }, Domain::Positive},
      {"maximum", {{2, 3}, {3}}, [](const V& x) { return maximum(x[0], x[1]); }},
      {"minimum", {{2, 3}, {2, 3}}, [](const V& x) { return minimum(x[0], x[1]); }},
      {"exp", {{2, 3}}, [](const V& x) { return exp(x[0]); }},
      {"log", {{2, 3}}, [](const V& x) { return log(x[0]); }, Domain::Positive},
      {"sqrt", {{2, 3}}, [](const V& x) { return sqrt(x[0]); }, Domain::Positive},
      {"pow", {{2, 3}}, [](const V& x) { return pow(x[0], 2.5); }, Domain::Positive},
      {"pow_tensor", {{2, 3}, {3}}, [](const V& x) { return pow(x[0], x[1]); }, Domain::Positive},
      {"square", {{2, 3}}, [](const V& x) { return square(x[0]); }},
      {"abs", {{2, 3}}, [](const V& x) { return abs(x[0]) * x[0]; }},
      {"sin", {{2, 3}}, [](const V& x) { return sin(x[0]); }},
      {"cos", {{2, 3}}, [](const V& x) { return cos(x[0]); }},
      {"relu", {{2, 3}}, [](const V& x) { return relu(x[0]) * x[0]; }},
      {"leaky_relu", {{2, 3}}, [](const V& x) { return leaky_relu(x[0], 0.2) * x[0]; }},
      {"celu", {{2, 3}}, [](const V& x) { return celu(x[0], 0.7); }},
      {"softplus", {{2, 3}}, [](const V& x) { return softplus(x[0]); }},
      {"sigmoid", {{2, 3}}, [](const V& x) { return sigmoid(x[0]); }},
      {"tanh", {{2, 3}}, [](const V& x) { return tanh(x[0]); }},
      {"silu", {{2, 3}}, [](const V& x) { return silu(x[0]); }},
      {"gelu", {{2, 3}}, [](const V& x) { return gelu(x[0]); }},
      {"clamp", {{2, 3}}, [](const V& x) { return clamp(x[0], -0.5, 0.5) * x[0]; }},
      {"where", {{2, 3}, {3}}, [](const V& x) { return where(mask_2x3(), x[0], x[1]) * x[0]; }},
      {"masked_select", {{2, 3}}, [](const V& x) { return masked_select(x[0] * x[0], mask_2x3()); }},
      {"masked_fill", {{2, 3}}, [](const V& x) { return masked_fill(x[0] * x[0], mask_2x3(), 3.0); }},
      // Through f32: 24-bit rounding (~6e-8 relative) divided by the step 1e-2 bounds the error near 1e-5,
      // and central differences of this quadratic have no truncation error.
      {"cast", {{2, 3}}, [](const V& x) { return square(cast(cast(x[0], DType::F32), DType::F64)); },
       Domain::Any, 1e-2, 1e-4, 1e-4},
      {"matmul", {{3, 4}, {4, 2}}, [](const V& x) { return matmul(x[0], x[1]) * matmul(x[0], x[1]); }},
      {"matmul_batched", {{2, 3, 4}, {2, 4, 2}}, [](const V& x) { return square(matmul(x[0], x[1])); }},
      {"matmul_broadcast", {{2, 3, 4}, {4, 2}}, [](const V& x) { return square(matmul(x[0], x[1])); }},
      {"matmul_transposed", {{4, 3}, {2, 4}}, [](const V& x) { return square(matmul(x[0], x[1], true, true)); }},
      {"matmul_transposed_batched", {{2, 4, 3}, {2, 4, 2}},
       [](const V& x) { return square(matmul(x[0], x[1], true, false)); }},
      {"dot", {{4}, {4}}, [](const V& x) { return square(dot(x[0], x[1])); }},
      {"outer", {{3}, {2}}, [](const V& x) { return square(outer(x[0], x[1])); }},
      {"reshape", {{2, 3}}, [](const V& x) { return square(reshape(x[0], {3, 2})); }},
      {"unsqueeze", {{2, 3}}, [](const V& x) { return square(unsqueeze(x[0], 1)); }},
      {"squeeze", {{2, 1, 3}}, [](const V& x) { return square(squeeze(x[0], 1)); }},
      {"transpose", {{2, 3}}, [](const V& x) { return square(transpose(x[0])); }},
      {"permute", {{2, 3, 4}}, [](const V& x) { return square(permute(x[0], {2, 0, 1})); }},
      {"broadcast_to", {{3, 1}}, [](const V& x) { return square(broadcast_to(x[0], {2, 3, 4})); }},
      {"sum_to", {{2, 3, 4}}, [](const V& x) { return square(sum_to(x[0], {3, 1})); }},
      {"slice", {{4, 5}}, [](const V& x) { return square(slice(x[0], 1, 1, 5, 2)); }},
      {"concat", {{2, 3}, {1, 3}}, [](const V& x) { return square(concat({x[0], x[1]}, 0)); }},
      {"stack", {{2, 3}, {2, 3}}, [](const V& x) { return square(stack({x[0], x[1]}, 1)); }},
      {"split", {{5, 2}}, [](const V& x) { auto p = split(x[0], {2, 3}); return square(p[1]) + sum(p[0]); }},
      {"index_select", {{4, 3}}, [](const V& x) { return square(index_select(x[0], 0, idx({3, 0, 3}, {3}))); }},
      {"gather", {{3, 4}}, [](const V& x) { return square(gather(x[0], 1, idx({0, 3, 3, 1, 2, 2}, {3, 2}))); }},
      {"scatter_add", {{3, 2}, {2, 2}},
       [](const V& x) { return square(scatter_add(x[0], 0, idx({2, 0, 2, 2}, {2, 2}), x[1])); }},
      {"sum", {{2, 3, 4}}, [](const V& x) { return square(sum(x[0], {0, 2}, true)); }},
      {"mean", {{2, 3, 4}}, [](const V& x) { return square(mean(x[0], {1})); }},
      {"max", {{3, 4}}, [](const V& x) { return square(max(x[0], {1})); }},
      {"min", {{3, 4}}, [](const V& x) { return square(min(x[0], {0}, true)); }},
      {"logsumexp", {{3, 4}}, [](const V& x) { return logsumexp(x[0], 1); }},
      {"softmax", {{3, 4}}, [](const V& x) { return softmax(x[0], 1); }},
      {"log_softmax", {{3, 4}}, [](const V& x) { return log_softmax(x[0], 0); }},
      {"layer_norm", {{3, 5}, {5}, {5}}, [](const V& x) { return layer_norm(x[0], x[1], x[2]); }},
      {"topk", {{3, 5}}, [](const V& x) { return square(topk(x[0], 2, 1).values); }},
      // Training mode: batch statistics over N, H, W; no running statistics to update.
      {"batch_norm", {{2, 3, 2, 2}, {3}, {3}},
       [](const V& x) { return batch_norm(x[0], Tensor(), Tensor(), x[1], x[2], true); }},
      // Eval mode: fixed running statistics, built on the inputs' device (the GPU parity test needs no twin).
      {"batch_norm_eval", {{4, 3}, {3}, {3}},
       [](const V& x) {
         const Tensor rm = Tensor::from_vector<double>({0.5, -1, 0.25}).to(x[0].dtype()).to(x[0].device());
         const Tensor rv = Tensor::from_vector<double>({2, 0.5, 1.5}).to(x[0].dtype()).to(x[0].device());
         return square(batch_norm(x[0], rm, rv, x[1], x[2], false));
       }},
      // q [G, m, d], k [G, n, d], v [G, n, e], key_bias [G, n]: the fused kernel (first order) and the
      // composition (second order); m, n, d, e all different so a transposed operand cannot pass.
      {"attention", {{2, 3, 2}, {2, 4, 2}, {2, 4, 3}, {2, 4}},
       [](const V& x) { return attention(x[0], x[1], x[2], x[3], 0.7); }},
      {"attention_no_bias", {{1, 5, 3}, {1, 2, 3}, {1, 2, 1}},
       [](const V& x) { return attention(x[0], x[1], x[2], Var(), 1.3); }},
      // Odd sizes whose last rows/columns stride 2 skips (the backward's output padding), non-square kernels.
      {"conv2d", {{2, 3, 6, 5}, {2, 3, 3, 2}}, [](const V& x) { return square(conv2d(x[0], x[1], {}, 2, 1)); }},
      {"conv2d_bias", {{1, 2, 5, 5}, {3, 2, 3, 3}, {3}},
       [](const V& x) { return square(conv2d(x[0], x[1], x[2], 1, 1)); }},
      {"conv_transpose2d", {{2, 3, 3, 2}, {3, 2, 3, 3}},
       [](const V& x) { return square(conv_transpose2d(x[0], x[1], {}, 2, 1, 1)); }},
      {"conv_transpose2d_bias", {{1, 2, 3, 3}, {2, 3, 2, 2}, {3}},
       [](const V& x) { return square(conv_transpose2d(x[0], x[1], x[2], 1, 0)); }},
      {"conv2d_weight", {{2, 2, 6, 5}, {2, 3, 3, 3}},
       [](const V& x) { return square(conv2d_weight(x[0], x[1], 3, 2, 2, 1)); }},
  };
  return cases;
}

std::vector<Tensor> case_inputs(const OpCase& c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> positive(0.5, 2.0);
  std::vector<Tensor> inputs;
  for (const Shape& s : c.shapes) {
    std::vector<double> v(static_cast<size_t>(numel(s)));
    for (double& x : v) x = c.domain == Domain::Positive ? positive(rng) : normal(rng);
    inputs.push_back(Tensor::from_vector(v, s));
  }
  return inputs;
}

}  // namespace brenier::testing
