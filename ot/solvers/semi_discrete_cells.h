// The hot loop of semi-discrete OT (AE-OT / OT-Net, spec/algorithms.md §6.1): which power cell each
// source point falls in.
//
// Targets y_i ∈ R^d with heights h_i define the Brenier potential u_h(x) = max_i ⟨x, y_i⟩ + h_i and its
// cells W_i = {x : i = argmax}. For sources X [N, d] this computes, per source, the argmax (and, for the
// generation of new codes, §6.2, the k best targets with their scores) and, per target, how many sources
// landed in its cell (the Monte-Carlo estimate of μ(W_i) is count / N).
//
// Never materializes the N × n score matrix: sources are processed in row blocks and targets in column
// chunks, with a running max/argmax (and a running top-k) carried across the chunks, so that one score
// block stays under a byte budget (spec §6.1: pyOMT processes targets in chunks of bat_size_P with a
// running max the same way). A block's scores ⟨x, y_i⟩ + h_i come from one GEMM on augmented operands
// [x, 1] · [y_i, h_i]ᵀ (no separate broadcast add, so no second block-sized temporary), through the
// backend primitives: oneDNN on the CPU for f32, cuBLAS when the tensors live on a CUDA device.
//
// Small d on the CPU (d ≤ 8, top_k = 0, no explicit chunk sizes, all targets in one planned chunk): a fused
// kernel computes each score in registers and keeps the running max without storing any score (the GEMM
// path is bound by writing and re-reading the score block: 0.35 s against 0.05 s to map a 512² image onto
// 500 colors on one core). Its scores are h_i + Σ_c x_c y_ic in that order, so they may differ from the
// GEMM's in the last bit; ties in exact arithmetic still go to the lower index.
//
// Ties go to the lowest target index (argmax and topk primitives pick the first index; a later chunk
// replaces the running best only when strictly greater), so the result does not depend on the chunking.
#pragma once
#include <cstdint>

#include "engine/tensor.h"

namespace brenier::ot {

struct CellAssignmentOptions {
  // Bound on one block's working memory: the score block (source rows × target columns × dtype size)
  // plus per-row buffers (the augmented source row, running argmax and top-k). Inputs, outputs and the
  // augmented copy of the targets [n, d+1] are not counted. 0 = the device's default,
  // default_cell_block_bytes(device).
  int64_t max_block_bytes = 0;
  // Targets per column chunk; 0 = as many as fit (all of them whenever one source row of all targets
  // fits the budget).
  int64_t target_chunk = 0;
  // Sources per row block; 0 = as many as fit the budget given the target chunk.
  int64_t source_chunk = 0;
  // Also return the k best targets per source (0 = off). Generation of new codes uses it (§6.2).
  int64_t top_k = 0;
  // Count sources per cell (the Monte-Carlo cell masses).
  bool counts = true;
  // Scan the three inputs for NaN/Inf first. The solvers check each sampled batch once on the host
  // before it reaches the device and turn this off (on a GPU the scan is a copy to the host).
  bool check_finite = true;
};

// Block sizes chosen for a problem (what assign_cells will use; exposed for tools and tests).
struct CellBlockPlan {
  int64_t source_rows = 0;    // sources per row block
  int64_t target_cols = 0;    // targets per column chunk
  int64_t row_bytes = 0;      // budgeted bytes per source row of a block
  int64_t block_bytes = 0;    // source_rows * row_bytes (<= the budget)
};

// The block budget when options.max_block_bytes is 0: 64 MiB on the CPU keeps a block in its memory
// bandwidth sweet spot; 1 GiB on a GPU makes OT-Net's N = 20000 × n = 10000 f32 scores one block (one
// GEMM and one argmax instead of 13 of each plus their per-block glue).
int64_t default_cell_block_bytes(Device device);

// Throws brenier::Error when the budget cannot hold one source row of one target chunk (naming the
// minimum), or when an explicit chunk does not fit it. `device` picks the default budget.
CellBlockPlan plan_cell_blocks(int64_t num_sources, int64_t num_targets, int64_t dim, DType dtype,
                               const CellAssignmentOptions& options = {}, Device device = Device::cpu());

struct CellAssignment {
  Tensor argmax;        // i64 [N]: argmax_i ⟨x, y_i⟩ + h_i, the lowest index on ties
  Tensor max_score;     // [N] (the sources' dtype): u_h(x)
  Tensor counts;        // i64 [n]: sources per cell (Σ = N); undefined unless options.counts
  Tensor topk_indices;  // i64 [N, k]: best first, lower index first on ties; undefined unless top_k > 0
  Tensor topk_scores;   // [N, k]; undefined unless top_k > 0
  CellBlockPlan plan;   // the budget's blocks (the fused small-d path below works in smaller ones, within them)
};

// sources [N, d], targets [n, d], heights [n]: one floating dtype, one device; N, n >= 1;
// 0 <= options.top_k <= n. Results live on the inputs' device.
CellAssignment assign_cells(const Tensor& sources, const Tensor& targets, const Tensor& heights,
                            const CellAssignmentOptions& options = {});

}  // namespace brenier::ot
