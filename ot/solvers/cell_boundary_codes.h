// New codes on non-singular cell boundaries: AE-OT's generation step (pyOMT demo1/demo2 `gen_P`),
// spec/algorithms.md §6.2.
//
// The semi-discrete map sends every source point to a training code y_i, so sampling it alone only
// reproduces the training set. AE-OT extends it piecewise-linearly: a Monte-Carlo point x near the boundary
// of its winning cell i₁ and a runner-up cell i_k gives the new code (1 − t)·y_{i₁} + t·y_{i_k}. Only
// across *non-singular* boundaries: cells whose supporting planes of u_h meet at a large angle straddle
// a gap between modes of the data (the singular set of the OT map), and interpolating across them would
// produce codes off the data manifold. The angle between planes is that of their normals
// n_i = (y_i, −1)/‖(y_i, −1)‖, θ = arccos⟨n_{i₁}, n_{i_k}⟩; pairs with θ ≤ threshold are kept.
//
// Selection, as in the reference: the candidate pairs (winner, r-th best) for r = 2..k are listed rank by
// rank (all points' 2nd-best pairs first, then the 3rd-best, …), filtered by θ; each winning cell keeps
// its first pair in that order; the survivors are shuffled and capped.
// Deviation (ours): pyOMT's demo2 first sorts each pair's two indices and keeps one pair per *smaller*
// index, which forgets which cell won; here the pair stays (winner, runner-up) and each *winner* keeps one
// pair, so t measures the distance from the winning code (t = 0.75: a quarter of the way from the
// runner-up, like demo2's rec_gen_distance).
#pragma once
#include <cstdint>

#include "engine/random/generator.h"
#include "ot/samplers/source_samplers.h"
#include "ot/solvers/semi_discrete_cells.h"

namespace brenier::ot {

enum class CodeInterpolation {
  Fixed,    // t = fixed_t for every code (demo2: rec_gen_distance = 0.75)
  Uniform,  // t ~ U(0, 1) per code (demo1's random weights)
};

struct BoundaryCodeConfig {
  int64_t samples = 10000;        // Monte-Carlo points (demo2 num_gen_x, §6.2)
  int64_t top_k = 20;             // hyperplanes per point (demo2 topk; demo1 uses 2; §6.2); 2 <= top_k <= n
  double angle_threshold = 0.7;   // radians (demo2 angle_threshold for CelebA; demo1 0.2/0.4/0.09 for toys; §6.2)
  int64_t max_codes = 50000;      // cap after shuffling (§6.2)
  CodeInterpolation interpolation = CodeInterpolation::Fixed;
  double fixed_t = 0.75;          // demo2 rec_gen_distance (§6.2); in [0, 1]
  CellAssignmentOptions cells;    // block budget (top_k is set from this config)
};

struct BoundaryCodes {
  Tensor codes;    // [m, d] in the targets' dtype on the CPU: (1 − t)·y_first + t·y_second
  Tensor first;    // i64 [m]: the winning cell i₁ (distinct)
  Tensor second;   // i64 [m]: the runner-up i_k
  Tensor t;        // f64 [m]: the interpolation weights used
  Tensor angle;    // f64 [m]: θ between the two cells' supporting planes (radians)
  int64_t candidate_pairs = 0;  // samples × (top_k − 1)
  int64_t accepted_pairs = 0;   // candidates with θ <= angle_threshold (before one-per-winner and the cap)
};

// Normals n_i = (y_i, −1)/‖(y_i, −1)‖ of the supporting planes of u_h: f64 [n, d + 1] on the CPU.
Tensor supporting_plane_normals(const Tensor& targets);

// targets [n, d], heights [n] (one floating dtype, one device); sources from `sampler`/`gen`.
BoundaryCodes generate_boundary_codes(const SourceSampler& sampler, Generator& gen, const Tensor& targets,
                                      const Tensor& heights, const BoundaryCodeConfig& config = {});

}  // namespace brenier::ot
