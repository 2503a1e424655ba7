// MM-B objective and batch-conjugate argmax (see mmb.h).
#include "ot/solvers/mmb.h"
#include "ot/solvers/chunked_map.h"
#include "ot/solvers/semi_discrete_cells.h"

#include <algorithm>
#include <vector>

#include "engine/backend/primitives.h"
#include "engine/ops/ops.h"
#include "engine/profiler.h"

namespace brenier::ot {
namespace {

void check_points(const Tensor& t, const char* op, const char* arg) {
  check_defined(t, op, arg);
  BRENIER_CHECK(is_floating(t.dtype()) && t.dim() == 2 && t.size(0) >= 1,
                "{}: argument '{}' must be a floating [n, D] batch with n >= 1, got {}", op, arg, t.str());
}
}  // namespace

Tensor batch_conjugate_argmax(const Tensor& psi_x, const Tensor& x, const Tensor& y, int64_t chunk_rows) {
  const char* op = "batch_conjugate_argmax";
  check_points(x, op, "x");
  check_points(y, op, "y");
  check_defined(psi_x, op, "psi_x");
  BRENIER_CHECK(psi_x.shape() == Shape{x.size(0)}, "{}: argument 'psi_x' must be [{}] (one value per row of x), got {}",
                op, x.size(0), psi_x.str());
  BRENIER_CHECK(y.size(1) == x.size(1), "{}: argument 'y' must have x's dimension {}, got {}", op, x.size(1), y.str());
  BRENIER_CHECK(x.dtype() == y.dtype() && x.dtype() == psi_x.dtype(),
                "{}: arguments 'psi_x', 'x' and 'y' must share a dtype, got {}, {} and {}", op, psi_x.str(),
                x.str(), y.str());
  BRENIER_CHECK(chunk_rows >= 1, "{}: argument 'chunk_rows' must be >= 1, got {}", op, chunk_rows);

  // The same argmax as semi-discrete OT's power cells: y_j are the "sources", x_i the "targets" with
  // heights −ψ(x_i). assign_cells forms the scores in blocks with one GEMM on augmented operands (no
  // separate subtraction), or in registers for D <= 8 on the CPU, and never stores the whole matrix.
  // Blocks are capped at kCachedScores (1 MiB of f32) so a block's scores are still in cache when the
  // argmax reads them. 1024 x 1024, one thread, CPU time: D = 2 0.60 -> 0.18 ms (fused kernel), D = 16
  // 0.82 -> 0.73, D = 64 1.92 -> 1.68 ms against GEMM, subtraction and argmax on the whole matrix.
  constexpr int64_t kCachedScores = int64_t{1} << 18;
  const int64_t n_x = x.size(0);
  const int64_t elem = static_cast<int64_t>(dtype_size(x.dtype()));
  CellAssignmentOptions options;
  options.counts = false;
  options.check_finite = false;  // the solvers check their batches; ψ's values come from them
  options.max_block_bytes = std::max(std::min(chunk_rows * n_x, kCachedScores), n_x + x.size(1) + 2) * elem;
  const Tensor neg_psi = prim::binary_scalar(prim::Binary::Mul, psi_x, -1.0);
  return assign_cells(y, x, neg_psi, options).argmax;
}

MmbObjective mmb_objective(const Var& psi_x, const Tensor& x, const Tensor& y, int64_t max_score_elements) {
  const char* op = "mmb_objective";
  BRENIER_CHECK(psi_x.defined(), "{}: argument 'psi_x' is an undefined Var", op);
  check_points(x, op, "x");
  BRENIER_CHECK(max_score_elements >= 1, "{}: argument 'max_score_elements' must be >= 1, got {}", op,
                max_score_elements);
  const int64_t chunk_rows = std::max<int64_t>(1, max_score_elements / x.size(0));
  Tensor sigma;
  {
    const profiler::Region region("mmb.conjugate", x.device());
    sigma = batch_conjugate_argmax(psi_x.data(), x, y, chunk_rows);
  }

  double inner = 0, sq_x = 0, sq_y = 0;  // constants of the objective (no parameter gradient)
  {
    NoGradGuard no_grad;
    Var xv(x), yv(y);
    inner = mean(sum(index_select(xv, 0, sigma) * yv, {1})).item();
    sq_x = mean(sum(square(xv), {1})).item();
    sq_y = mean(sum(square(yv), {1})).item();
  }
  Var loss = mean(psi_x) - mean(index_select(psi_x, 0, sigma)) + inner;
  return {loss, sq_x + sq_y - 2.0 * loss.item()};
}

}  // namespace brenier::ot
