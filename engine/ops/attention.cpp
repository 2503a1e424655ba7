// attention: scaled-dot-product attention over the fused primitive (see ops.h).
#include "engine/ops/common.h"

namespace brenier {
using namespace ops_detail;

namespace {

// softmax(scale · q kᵀ + key_bias) — the probabilities the fused kernel never stores.
Var probabilities(const Var& q, const Var& k, const Var& key_bias, double scale) {
  Var scores = matmul(q, k, false, true) * scale;
  if (key_bias.defined()) scores = scores + unsqueeze(key_bias, 1);
  return softmax(scores, -1);
}

}  // namespace

Var attention(const Var& q, const Var& k, const Var& v, const Var& key_bias, double scale) {
  check_float_var(q, "attention", "q");
  check_var(k, "attention", "k");
  check_var(v, "attention", "v");
  const bool has_bias = key_bias.defined();
  prim::check_attention_arguments("attention", q.data(), k.data(), v.data(), has_bias ? key_bias.data() : Tensor(),
                                  scale);
  // No fused kernel for these heads here (CUDA: switched off, or wider than 128): the composition, whose
  // backward keeps softmax's probabilities.
  if (!prim::has_fused_attention(q.data(), v.data())) return matmul(probabilities(q, k, key_bias, scale), v);
  std::vector<Tensor> value =
      prim::attention(q.data(), k.data(), v.data(), has_bias ? key_bias.data() : Tensor(), scale);
  const Tensor lse = value[1];  // log-normalizers: the backward recomputes the probabilities from them
  std::vector<Var> inputs{q, k, v};
  if (has_bias) inputs.push_back(key_bias);
  return record("attention", value[0], inputs, [lse, scale, has_bias](const BackwardArgs& a) {
    const Var &q = a.inputs[0], &k = a.inputs[1], &v = a.inputs[2];
    const Var bias = has_bias ? a.inputs[3] : Var();
    std::vector<Var> grads;
    if (!autograd::grad_enabled()) {  // first order: the fused kernel
      const std::vector<Tensor> g = prim::attention_backward(q.data(), k.data(), v.data(),
                                                             has_bias ? bias.data() : Tensor(), a.out.data(), lse,
                                                             a.grad.data(), scale);
      for (size_t i = 0; i < a.inputs.size(); ++i) grads.push_back(a.needs[i] ? constant(g[i]) : Var());
      return grads;
    }
    // Under create_graph: the same formulas in differentiable ops, so they can be differentiated again.
    const Var p = probabilities(q, k, bias, scale);
    const Var dp = matmul(a.grad, v, false, true);
    const Var ds = p * (dp - sum(dp * p, {2}, true));
    grads = {a.needs[0] ? matmul(ds, k) * scale : Var(), a.needs[1] ? matmul(ds, q, true, false) * scale : Var(),
             a.needs[2] ? matmul(p, a.grad, true, false) : Var()};
    if (has_bias) grads.push_back(a.needs[3] ? sum(ds, {1}) : Var());
    return grads;
  });
}

}  // namespace brenier
