// Power-cell assignment in blocks under a memory budget (see semi_discrete_cells.h).
#include "ot/solvers/semi_discrete_cells.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "engine/backend/primitives.h"

namespace brenier::ot {
namespace {

constexpr const char* kOp = "assign_cells";

// Budgeted bytes of one source row of a block: its scores, its augmented copy [x, 1], and the small
// per-row tensors of the running argmax (≈ 8 values and indices) and of the top-k merge (block top-k,
// running top-k, their concatenation, the merged top-k and its gathered indices: ≈ 6k values and indices).
int64_t row_bytes(int64_t target_cols, int64_t dim, int64_t top_k, int64_t elem) {
  return target_cols * elem + (dim + 1) * elem + (8 + 6 * top_k) * (elem + 8);
}

// Small-d CPU path (ours): for d ≤ kFusedMaxDim a score costs d multiply-adds, so the GEMM path is bound by
// writing and re-reading the score block and by the generic argmax (≈ 1.3 ns a score for d = 3, n = 500 on
// one core: 0.35 s to map a 512² image). Here the scores of kFusedRows sources live in a register-sized
// buffer: per target, one pass over the rows adds h_i + Σ_c x_c y_ic and keeps the running max, strictly
// greater so that ties stay with the lower index (the GEMM path's rule). No score is stored.
constexpr int64_t kFusedMaxDim = 8;
constexpr int64_t kFusedRows = 64;

template <class T>
inline __attribute__((always_inline)) void fused_rows(const T* x, const T* y, const T* h, int64_t rows, int64_t n,
                                                      int64_t d, int64_t* argmax, T* max_score) {
  T xs[kFusedMaxDim][kFusedRows];  // the block transposed: one row-contiguous lane per coordinate
  T best[kFusedRows], acc[kFusedRows];
  int32_t best_index[kFusedRows];
  for (int64_t c = 0; c < d; ++c)
    for (int64_t r = 0; r < kFusedRows; ++r) xs[c][r] = r < rows ? x[r * d + c] : T(0);
  for (int64_t r = 0; r < kFusedRows; ++r) best[r] = -std::numeric_limits<T>::infinity(), best_index[r] = 0;
  for (int64_t i = 0; i < n; ++i) {
    const T hi = h[i];
    for (int64_t r = 0; r < kFusedRows; ++r) acc[r] = hi;
    for (int64_t c = 0; c < d; ++c) {
      const T yc = y[i * d + c];
      for (int64_t r = 0; r < kFusedRows; ++r) acc[r] += xs[c][r] * yc;
    }
    const int32_t index = static_cast<int32_t>(i);
    for (int64_t r = 0; r < kFusedRows; ++r) {
      const bool better = acc[r] > best[r];
      best[r] = better ? acc[r] : best[r];
      best_index[r] = better ? index : best_index[r];
    }
  }
  for (int64_t r = 0; r < rows; ++r) argmax[r] = best_index[r], max_score[r] = best[r];
}

// One clone per instruction set (GCC function multi-versioning): the build targets baseline x86-64.
template <class T>
__attribute__((target_clones("avx512f", "avx2", "default"))) void fused_assign(const T* x, const T* y, const T* h,
                                                                              int64_t N, int64_t n, int64_t d,
                                                                              int64_t* argmax, T* max_score) {
  const int64_t blocks = (N + kFusedRows - 1) / kFusedRows;
#pragma omp parallel for schedule(static) if (N * n > (int64_t{1} << 22))
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t s0 = b * kFusedRows, rows = std::min(kFusedRows, N - s0);
    fused_rows(x + s0 * d, y, h, rows, n, d, argmax + s0, max_score + s0);
  }
}

}  // namespace

int64_t default_cell_block_bytes(Device device) {
  return device.is_cpu() ? int64_t{64} << 20 : int64_t{1} << 30;
}

namespace {
int64_t budget_of(const CellAssignmentOptions& o, Device device) {
  return o.max_block_bytes > 0 ? o.max_block_bytes : default_cell_block_bytes(device);
}
}  // namespace

CellBlockPlan plan_cell_blocks(int64_t num_sources, int64_t num_targets, int64_t dim, DType dtype,
                               const CellAssignmentOptions& o, Device device) {
  BRENIER_CHECK(num_sources >= 1 && num_targets >= 1 && dim >= 1,
                "{}: needs at least one source, one target and one dimension, got N={}, n={}, d={}", kOp,
                num_sources, num_targets, dim);
  BRENIER_CHECK(is_floating(dtype), "{}: the points must be floating (f32 or f64), got {}", kOp, dtype_name(dtype));
  BRENIER_CHECK(o.top_k >= 0 && o.top_k <= num_targets,
                "{}: option 'top_k' must be in [0, {}] (the number of targets), got {}", kOp, num_targets, o.top_k);
  BRENIER_CHECK(o.target_chunk >= 0, "{}: option 'target_chunk' must be >= 0 (0 = from the budget), got {}", kOp,
                o.target_chunk);
  BRENIER_CHECK(o.source_chunk >= 0, "{}: option 'source_chunk' must be >= 0 (0 = from the budget), got {}", kOp,
                o.source_chunk);
  BRENIER_CHECK(o.max_block_bytes >= 0, "{}: option 'max_block_bytes' must be >= 0 (0 = the device's default), got {}",
                kOp, o.max_block_bytes);
  const int64_t budget = budget_of(o, device);
  const int64_t elem = static_cast<int64_t>(dtype_size(dtype));
  const int64_t minimum = row_bytes(o.target_chunk > 0 ? std::min(o.target_chunk, num_targets) : 1, dim, o.top_k, elem);
  BRENIER_CHECK(budget >= minimum,
                "{}: option 'max_block_bytes' must be at least {} bytes (one source row against {} target(s) at d={}, "
                "top_k={}, {}), got {}",
                kOp, minimum, o.target_chunk > 0 ? std::min(o.target_chunk, num_targets) : 1, dim, o.top_k,
                dtype_name(dtype), budget);

  CellBlockPlan plan;
  if (o.target_chunk > 0) {
    plan.target_cols = std::min(o.target_chunk, num_targets);
  } else {
    const int64_t fixed = row_bytes(0, dim, o.top_k, elem);
    plan.target_cols = std::min(num_targets, (budget - fixed) / elem);
  }
  plan.row_bytes = row_bytes(plan.target_cols, dim, o.top_k, elem);
  const int64_t fit_rows = budget / plan.row_bytes;
  if (o.source_chunk > 0) {
    plan.source_rows = std::min(o.source_chunk, num_sources);
    BRENIER_CHECK(plan.source_rows <= fit_rows,
                  "{}: option 'source_chunk' = {} rows of {} bytes exceeds 'max_block_bytes' = {} (at most {} rows fit)",
                  kOp, o.source_chunk, plan.row_bytes, budget, fit_rows);
  } else {
    plan.source_rows = std::min(num_sources, fit_rows);
  }
  plan.block_bytes = plan.source_rows * plan.row_bytes;
  return plan;
}

CellAssignment assign_cells(const Tensor& sources, const Tensor& targets, const Tensor& heights,
                            const CellAssignmentOptions& o) {
  check_defined(sources, kOp, "sources");
  check_defined(targets, kOp, "targets");
  check_defined(heights, kOp, "heights");
  BRENIER_CHECK(sources.dim() == 2 && sources.size(0) >= 1 && sources.size(1) >= 1,
                "{}: argument 'sources' must be [N, d] with N, d >= 1, got {}", kOp, sources.str());
  BRENIER_CHECK(targets.dim() == 2 && targets.size(0) >= 1,
                "{}: argument 'targets' must be [n, d] with n >= 1, got {}", kOp, targets.str());
  BRENIER_CHECK(targets.size(1) == sources.size(1),
                "{}: argument 'targets' must have the sources' dimension d={}, got {}", kOp, sources.size(1),
                targets.str());
  const int64_t N = sources.size(0), n = targets.size(0), d = sources.size(1);
  BRENIER_CHECK(heights.shape() == Shape{n}, "{}: argument 'heights' must be [{}] (one per target), got {}", kOp, n,
                heights.str());
  BRENIER_CHECK(is_floating(sources.dtype()) && targets.dtype() == sources.dtype() &&
                    heights.dtype() == sources.dtype(),
                "{}: arguments 'sources', 'targets' and 'heights' must share one floating dtype, got {}, {} and {}",
                kOp, sources.str(), targets.str(), heights.str());
  BRENIER_CHECK(targets.device() == sources.device() && heights.device() == sources.device(),
                "{}: arguments 'sources', 'targets' and 'heights' must be on one device, got {}, {} and {}", kOp,
                sources.str(), targets.str(), heights.str());
  if (o.check_finite) {
    check_finite(sources, kOp, "sources");
    check_finite(targets, kOp, "targets");
    check_finite(heights, kOp, "heights");
  }
  const CellBlockPlan plan = plan_cell_blocks(N, n, d, sources.dtype(), o, sources.device());
  const DType dtype = sources.dtype();
  const Device device = sources.device();
  const int64_t k = o.top_k;

  // The fused path works in kFusedRows × (kFusedMaxDim + 2) values (≤ 5 KiB), within any budget whose plan
  // holds all targets in one chunk; explicit chunk sizes ask for the GEMM path.
  if (device.is_cpu() && k == 0 && d <= kFusedMaxDim && n < std::numeric_limits<int32_t>::max() &&
      o.target_chunk == 0 && o.source_chunk == 0 && plan.target_cols == n &&
      budget_of(o, device) >= kFusedRows * (kFusedMaxDim + 2) * static_cast<int64_t>(dtype_size(dtype))) {
    CellAssignment result;
    result.plan = plan;
    result.argmax = Tensor::empty({N}, DType::I64, device);
    result.max_score = Tensor::empty({N}, dtype, device);
    int64_t* argmax = result.argmax.data<int64_t>();
    if (dtype == DType::F32) {
      fused_assign<float>(sources.data<float>(), targets.data<float>(), heights.data<float>(), N, n, d, argmax,
                          result.max_score.data<float>());
    } else {
      fused_assign<double>(sources.data<double>(), targets.data<double>(), heights.data<double>(), N, n, d, argmax,
                           result.max_score.data<double>());
    }
    if (o.counts) result.counts = prim::bincount(result.argmax, n);
    return result;
  }

  // [y_i, h_i] in column chunks, made once: a block's scores are then one GEMM [x, 1] · [y, h]ᵀ.
  const Tensor augmented_targets = prim::concat({targets, heights.reshape({n, 1})}, 1);
  std::vector<Tensor> target_chunks;
  std::vector<int64_t> chunk_start;
  for (int64_t t0 = 0; t0 < n; t0 += plan.target_cols) {
    const int64_t t1 = std::min(n, t0 + plan.target_cols);
    target_chunks.push_back(t0 == 0 && t1 == n ? augmented_targets : prim::slice(augmented_targets, 0, t0, t1, 1));
    chunk_start.push_back(t0);
  }

  std::vector<Tensor> argmax_parts, max_parts, topk_index_parts, topk_score_parts;
  for (int64_t s0 = 0; s0 < N; s0 += plan.source_rows) {
    const int64_t s1 = std::min(N, s0 + plan.source_rows), rows = s1 - s0;
    const Tensor block = s0 == 0 && s1 == N ? sources : prim::slice(sources, 0, s0, s1, 1);
    const Tensor augmented_block = prim::concat({block, Tensor::ones({rows, 1}, dtype, device)}, 1);

    Tensor best_score, best_index;  // [rows, 1] running max / argmax (top_k == 0)
    Tensor run_scores, run_indices;  // [rows, ≤k] running top-k, sorted (top_k > 0)
    for (size_t c = 0; c < target_chunks.size(); ++c) {
      const int64_t t0 = chunk_start[c];
      const Tensor scores = prim::matmul(augmented_block, target_chunks[c], false, true);  // [rows, cols]
      if (k == 0) {
        Tensor index = prim::argreduce(true, scores, 1, /*keepdim=*/true);
        Tensor score = prim::gather(scores, 1, index);
        if (t0 != 0) index = prim::binary_scalar(prim::Binary::Add, index, static_cast<double>(t0));
        if (!best_score.defined()) {
          best_score = score, best_index = index;
        } else {
          // Strictly greater: on a tie the earlier chunk (lower target index) keeps the cell.
          const Tensor better = prim::binary(prim::Binary::Gt, score, best_score);
          best_score = prim::where(better, score, best_score);
          best_index = prim::where(better, index, best_index);
        }
      } else {
        const int64_t kb = std::min(k, scores.size(1));
        std::vector<Tensor> top = prim::topk(scores, kb, 1, true);
        if (t0 != 0) top[1] = prim::binary_scalar(prim::Binary::Add, top[1], static_cast<double>(t0));
        if (!run_scores.defined()) {
          run_scores = top[0], run_indices = top[1];
        } else {
          // The running entries come first in the concatenation and topk ranks equal values by position,
          // so ties keep the lower target index.
          const Tensor all_scores = prim::concat({run_scores, top[0]}, 1);
          const Tensor all_indices = prim::concat({run_indices, top[1]}, 1);
          std::vector<Tensor> merged = prim::topk(all_scores, std::min(k, all_scores.size(1)), 1, true);
          run_scores = merged[0];
          run_indices = prim::gather(all_indices, 1, merged[1]);
        }
      }
    }
    if (k == 0) {
      argmax_parts.push_back(best_index.reshape({rows}));
      max_parts.push_back(best_score.reshape({rows}));
    } else {
      argmax_parts.push_back(prim::slice(run_indices, 1, 0, 1, 1).reshape({rows}));
      max_parts.push_back(prim::slice(run_scores, 1, 0, 1, 1).reshape({rows}));
      topk_index_parts.push_back(run_indices);
      topk_score_parts.push_back(run_scores);
    }
  }

  CellAssignment result;
  result.plan = plan;
  result.argmax = argmax_parts.size() == 1 ? argmax_parts[0] : prim::concat(argmax_parts, 0);
  result.max_score = max_parts.size() == 1 ? max_parts[0] : prim::concat(max_parts, 0);
  if (k > 0) {
    result.topk_indices = topk_index_parts.size() == 1 ? topk_index_parts[0] : prim::concat(topk_index_parts, 0);
    result.topk_scores = topk_score_parts.size() == 1 ? topk_score_parts[0] : prim::concat(topk_score_parts, 0);
  }
  if (o.counts) result.counts = prim::bincount(result.argmax, n);
  return result;
}

}  // namespace brenier::ot
