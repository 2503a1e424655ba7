// Matrix products. matmul records an internal op with transpose flags, so that its backward is
// again a product with flags (no transposed copies) and is itself differentiable.
#include "engine/ops/common.h"

namespace brenier {
using namespace ops_detail;

namespace {

// C = op(A) @ op(B), op = transpose of the last two dims when the flag is set.
Var matmul_t(const Var& a, const Var& b, bool ta, bool tb) {
  return record("matmul", prim::matmul(a.data(), b.data(), ta, tb), {a, b}, [ta, tb](const BackwardArgs& r) {
    const Var &A = r.inputs[0], &B = r.inputs[1], &G = r.grad;
    Var dA, dB;
    if (r.needs[0]) {
      dA = !ta ? (!tb ? matmul_t(G, B, false, true) : matmul_t(G, B, false, false))
               : (!tb ? matmul_t(B, G, false, true) : matmul_t(B, G, true, true));
      dA = sum_to(dA, A.shape());  // a 2-D or batch-1 operand was shared across the batch
    }
    if (r.needs[1]) {
      dB = !tb ? (!ta ? matmul_t(A, G, true, false) : matmul_t(A, G, false, false))
               : (!ta ? matmul_t(G, A, true, false) : matmul_t(G, A, true, true));
      dB = sum_to(dB, B.shape());
    }
    return std::vector<Var>{dA, dB};
  });
}

}  // namespace

Var matmul(const Var& a, const Var& b) {
  check_float_var(a, "matmul", "a");
  check_float_var(b, "matmul", "b");
  return matmul_t(a, b, false, false);
}

Var matmul(const Var& a, const Var& b, bool transpose_a, bool transpose_b) {
  check_float_var(a, "matmul", "a");
  check_float_var(b, "matmul", "b");
  return matmul_t(a, b, transpose_a, transpose_b);
}

Var dot(const Var& a, const Var& b) {
  check_float_var(a, "dot", "a");
  check_float_var(b, "dot", "b");
  BRENIER_CHECK(a.dim() == 1 && b.dim() == 1 && a.size(0) == b.size(0),
                "dot: arguments 'a' and 'b' must be 1-D of equal length, got {} and {}", a.data().str(),
                b.data().str());
  return sum(a * b);
}

Var outer(const Var& a, const Var& b) {
  check_float_var(a, "outer", "a");
  check_float_var(b, "outer", "b");
  BRENIER_CHECK(a.dim() == 1 && b.dim() == 1, "outer: arguments 'a' and 'b' must be 1-D, got {} and {}",
                a.data().str(), b.data().str());
  return unsqueeze(a, 1) * unsqueeze(b, 0);
}

}  // namespace brenier
